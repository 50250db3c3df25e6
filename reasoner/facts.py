"""The fact language: ground facts that the student writes and the solver reads.

The language is defined by ``grammars/facts.lark``. Text is parsed into
:class:`Fact` objects, checked against the input signature that a rule pack
declares, and rendered back to text by this module alone. Nothing a question
contains reaches clingo or Prolog except as rendered :class:`Fact` objects, so
the grammar is the only door between question text and the solvers.

>>> facts = parse_facts('given("Zoë", truth). ask("Zoë").')
>>> render_facts(facts)
'given("Zoë",truth).\\nask("Zoë").\\n'
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Iterable, Sequence, Union

import lark

from reasoner.paths import GRAMMAR_DIR

# Longest string a fact may hold. Entity names are short; a longer string is a
# translation that ran over a sentence boundary, or hostile input.
MAX_STRING_LENGTH = 200


class TranslationError(ValueError):
    """Facts that do not parse, or that do not fit the pack's input signature.

    ``line`` and ``column`` are 1-based positions in the fact text, or 0 when
    the error concerns the facts as a whole.
    """

    def __init__(self, message: str, line: int = 0, column: int = 0):
        self.message = message
        self.line = line
        self.column = column
        where = f"line {line}, column {column}: " if line else ""
        super().__init__(where + message)


@dataclass(frozen=True)
class Constant:
    """A symbolic constant such as ``truth`` or ``left``."""

    name: str

    def __str__(self) -> str:
        return self.name


Term = Union[Constant, int, str]
"""A fact argument: a :class:`Constant`, an integer, or a string (a Python ``str``)."""


@dataclass(frozen=True)
class Fact:
    """One ground fact ``predicate(arg, ...)``, with its position in the source text."""

    predicate: str
    args: tuple[Term, ...] = ()
    line: int = field(default=0, compare=False)
    column: int = field(default=0, compare=False)

    @property
    def signature(self) -> str:
        return f"{self.predicate}/{len(self.args)}"

    def render(self) -> str:
        """Return the fact as clingo source text, ending with a period."""
        if not self.args:
            return f"{self.predicate}."
        return f"{self.predicate}({','.join(render_term(a) for a in self.args)})."

    def render_prolog(self) -> str:
        """Return the fact as a Prolog clause, strings written as quoted atoms."""
        if not self.args:
            return f"{self.predicate}."
        return f"{self.predicate}({','.join(render_prolog_term(a) for a in self.args)})."


def quote_string(value: str) -> str:
    """Return ``value`` as a clingo string literal (escaping ``\\``, ``"`` and line breaks)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def unquote_string(literal: str) -> str:
    """Invert :func:`quote_string` on a literal that the grammar accepted."""
    body = literal[1:-1]
    out = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            following = body[i + 1]
            out.append("\n" if following == "n" else following)
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out)


def quote_prolog_atom(value: str) -> str:
    """Return ``value`` as a single-quoted Prolog atom, escaped for SWI-Prolog."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
    return f"'{escaped}'"


def render_term(term: Term) -> str:
    if isinstance(term, Constant):
        return term.name
    if isinstance(term, bool):
        raise TypeError("booleans are not terms of the fact language")
    if isinstance(term, int):
        return str(term)
    return quote_string(term)


def render_prolog_term(term: Term) -> str:
    if isinstance(term, (Constant, int)):
        return str(term)
    return quote_prolog_atom(term)


def render_facts(facts: Iterable[Fact]) -> str:
    """Return facts as fact-language text, one fact per line."""
    return "".join(fact.render() + "\n" for fact in facts)


@functools.lru_cache(maxsize=None)
def fact_parser() -> lark.Lark:
    """Return the LALR parser of ``grammars/facts.lark`` (loaded once per process)."""
    return lark.Lark.open(
        str(GRAMMAR_DIR / "facts.lark"), parser="lalr", strict=True, propagate_positions=True
    )


def _describe_token(token: lark.Token) -> str:
    if token.type == "$END":
        return "end of input"
    return f"{token.type} {token.value!r}"


def parse_facts(text: str) -> list[Fact]:
    """Parse fact-language text into facts.

    Raises :class:`TranslationError` with the line and column of the first
    character that the grammar rejects.
    """
    try:
        tree = fact_parser().parse(text)
    except lark.UnexpectedCharacters as error:
        raise TranslationError(
            f"invalid character {text[error.pos_in_stream]!r} in facts", error.line, error.column
        ) from None
    except lark.UnexpectedToken as error:
        expected = ", ".join(sorted(error.expected)) or "nothing"
        line, column = error.line, error.column
        if error.token.type == "$END":
            # Lark places the end of input at the last token; point after the text instead.
            content = text.rstrip()
            line = content.count("\n") + 1
            column = len(content) - (content.rfind("\n") + 1) + 1
        raise TranslationError(
            f"unexpected {_describe_token(error.token)} in facts; expected one of: {expected}", line, column
        ) from None
    except lark.UnexpectedEOF as error:
        raise TranslationError(
            "facts end in the middle of a fact", error.line, error.column
        ) from None
    return [_fact_from_tree(node) for node in tree.children]


def _fact_from_tree(node: lark.Tree) -> Fact:
    name_token = node.children[0]
    args: list[Term] = []
    for child in node.children[1:]:
        if isinstance(child, lark.Tree):
            args.append(_term_from_tree(child))
    return Fact(name_token.value, tuple(args), name_token.line, name_token.column)


def _term_from_tree(node: lark.Tree) -> Term:
    token = node.children[0]
    if node.data == "constant":
        return Constant(token.value)
    if node.data == "integer":
        return int(token.value)
    value = unquote_string(token.value)
    if len(value) > MAX_STRING_LENGTH:
        raise TranslationError(
            f"string of {len(value)} characters is longer than the limit of {MAX_STRING_LENGTH}",
            token.line,
            token.column,
        )
    return value


# Argument types a pack may declare for each input predicate argument:
#   "name"        a string copied from the question (an entity, an option label)
#   "word"        a string copied from one word of the question
#   "int"         an integer
#   "seq"         an integer numbering facts in the order they were written
#   "a|b|c"       one of the listed constants
ArgType = str


def check_facts(facts: Sequence[Fact], signature: dict[str, Sequence[ArgType]]) -> None:
    """Check facts against a pack's input signature.

    ``signature`` maps each input predicate name to the types of its
    arguments. Raises :class:`TranslationError` on an unknown predicate, a
    wrong arity or an argument of the wrong type, naming the fact's position.
    """
    for fact in facts:
        if fact.predicate not in signature:
            known = ", ".join(f"{name}/{len(types)}" for name, types in sorted(signature.items()))
            raise TranslationError(
                f"unknown predicate {fact.signature}; the pack's inputs are: {known}",
                fact.line,
                fact.column,
            )
        types = signature[fact.predicate]
        if len(types) != len(fact.args):
            raise TranslationError(
                f"{fact.predicate} takes {len(types)} arguments, got {len(fact.args)}",
                fact.line,
                fact.column,
            )
        for position, (arg, arg_type) in enumerate(zip(fact.args, types), start=1):
            problem = type_error(arg, arg_type)
            if problem:
                raise TranslationError(
                    f"argument {position} of {fact.signature} {problem}", fact.line, fact.column
                )


def type_error(arg: Term, arg_type: ArgType) -> str | None:
    """Return why ``arg`` does not have type ``arg_type``, or None when it does."""
    if arg_type in ("name", "word"):
        if not isinstance(arg, str):
            return f"must be a quoted string, got {render_term(arg)}"
        if not arg.strip():
            return "must be a non-empty string"
        return None
    if arg_type in ("int", "seq"):
        if isinstance(arg, bool) or not isinstance(arg, int):
            return f"must be an integer, got {render_term(arg)}"
        return None
    choices = arg_type.split("|")
    if not isinstance(arg, Constant) or arg.name not in choices:
        return f"must be one of {', '.join(choices)}, got {render_term(arg)}"
    return None

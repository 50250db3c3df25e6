"""The student's output actions, and the writer that turns them into fact text.

The student does not spell facts character by character. Each decoding step
chooses one action: a predicate, a constant, a small integer, the end of the
facts, or a span of question words to copy as a name (or as a number). The
:class:`FactWriter` renders the chosen actions as fact-language tokens and
feeds every token to the Lark interactive parser of ``grammars/facts.lark``;
an action is allowed only when the parser accepts its terminal next and the
pack's input signature allows it in that argument. Punctuation and ``seq``
arguments have a single allowed value and are written without a model step.
So every finished output parses and fits the pack.

``seq`` arguments number the facts that have one in the order they are
written, with one counter per question (navigate's moves and turns share it).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Iterable

import lark

from reasoner.facts import fact_parser, quote_string
from reasoner.packs import Pack

EOS = "<eos>"
# Integers the student can write without copying them: positions, counts, ranks.
MAX_INT = 40

FACT_SLOT = "fact"


@dataclass(frozen=True)
class SlotSpec:
    """What the next model step may produce."""

    slot: int  # index into ActionSpace.slots, fed to the model
    vocab: tuple[int, ...]  # allowed vocabulary actions
    span: str | None  # None, "name" (a copyable span), "number" (one word of digits) or "word" (any one word)


class ActionSpace:
    """The vocabulary of actions and slots for a set of packs.

    The vocabulary is the end marker, every input predicate, every constant
    of an enumerated argument type, and the integers 0..MAX_INT. Span actions
    are indexed after the vocabulary: action ``len(vocab) + i`` starts a span at word ``i``.
    """

    def __init__(self, packs: Iterable[Pack]):
        self.packs = {pack.name: pack for pack in packs}
        predicates = sorted({name for pack in self.packs.values() for name in pack.inputs})
        constants = sorted(
            {
                choice
                for pack in self.packs.values()
                for types in pack.inputs.values()
                for arg_type in types
                if "|" in arg_type or arg_type not in ("name", "word", "int", "seq")
                for choice in arg_type.split("|")
            }
        )
        self.vocab = [EOS] + [f"pred:{p}" for p in predicates] + [f"const:{c}" for c in constants]
        self.vocab += [f"int:{n}" for n in range(MAX_INT + 1)]
        self.index = {token: i for i, token in enumerate(self.vocab)}
        self.slots = [FACT_SLOT] + sorted(
            {f"{name}/{k}" for pack in self.packs.values() for name, types in pack.inputs.items()
             for k in range(len(types))}
        )
        self.slot_index = {slot: i for i, slot in enumerate(self.slots)}
        self.pack_names = sorted(self.packs)

    def to_dict(self) -> dict:
        return {"vocab": self.vocab, "slots": self.slots, "packs": self.pack_names}

    def check_compatible(self, saved: dict) -> None:
        """Raise ValueError when a saved model's vocabulary differs from this one."""
        for key, value in self.to_dict().items():
            if saved.get(key) != value:
                raise ValueError(
                    f"the model was trained for other packs or inputs ({key} differ); retrain it with `reason train`"
                )


# Terminal that each kind of action writes, for the Lark acceptance check.
_TERMINAL = {"eos": "$END", "pred": "NAME", "const": "NAME", "int": "INT"}


@dataclass
class FactWriter:
    """Incremental writer of one question's facts, kept valid by the Lark parser."""

    space: ActionSpace
    pack: Pack
    parser: lark.parsers.lalr_interactive_parser.InteractiveParser = field(default=None)  # type: ignore[assignment]
    pieces: list[str] = field(default_factory=list)
    predicate: str | None = None
    argument: int = 0
    sequence: int = 0
    finished: bool = False

    def __post_init__(self) -> None:
        if self.parser is None:
            self.parser = _treeless_parser()
        self._skip_forced()

    def copy(self) -> "FactWriter":
        # The parser builds no tree (see _treeless_parser), so copies may share its value stack.
        # A deep copy of that stack took about a fifth of the beam search's time in a profile.
        return FactWriter(
            self.space, self.pack, self.parser.copy(deepcopy_values=False), list(self.pieces), self.predicate,
            self.argument, self.sequence, self.finished,
        )

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    # -- what may come next -------------------------------------------------

    def expecting(self) -> SlotSpec:
        """Return the slot and the allowed actions of the next model step."""
        accepted = _accepted_terminals(self.parser)
        index = self.space.index
        if self.predicate is None:
            vocab = [index[f"pred:{name}"] for name in sorted(self.pack.inputs)] if "NAME" in accepted else []
            if "$END" in accepted:
                vocab.insert(0, index[EOS])
            return SlotSpec(self.space.slot_index[FACT_SLOT], tuple(vocab), None)

        slot = self.space.slot_index[f"{self.predicate}/{self.argument}"]
        arg_type = self.pack.inputs[self.predicate][self.argument]
        if arg_type in ("name", "word"):
            return SlotSpec(slot, (), arg_type if "STRING" in accepted else None)
        if arg_type == "int":
            # A transcribing pack copies every number; it never writes one from the vocabulary.
            writable = "INT" in accepted and not self.pack.consecutive
            vocab = tuple(index[f"int:{n}"] for n in range(MAX_INT + 1)) if writable else ()
            return SlotSpec(slot, vocab, "number" if "INT" in accepted else None)
        choices = arg_type.split("|")
        vocab = tuple(index[f"const:{c}"] for c in choices) if "NAME" in accepted else ()
        return SlotSpec(slot, vocab, None)

    # -- applying actions ---------------------------------------------------

    def apply_vocab(self, token_id: int) -> None:
        token = self.space.vocab[token_id]
        if token == EOS:
            self.parser.feed_eof()
            self.finished = True
            return
        kind, value = token.split(":", 1)
        if kind == "pred":
            self._feed("NAME", value)
            self.predicate, self.argument = value, 0
            if not self.pack.inputs[value]:
                self._close_fact()
            else:
                self._feed("LPAR", "(")
        elif kind == "const":
            self._write_argument("NAME", value)
        else:
            self._write_argument("INT", value)
        self._skip_forced()

    def apply_name(self, name: str) -> None:
        self._write_argument("STRING", quote_string(name))
        self._skip_forced()

    def apply_number(self, digits: str) -> None:
        self._write_argument("INT", str(int(digits)))
        self._skip_forced()

    # -- internals ----------------------------------------------------------

    def _feed(self, terminal: str, value: str) -> None:
        self.parser.feed_token(lark.Token(terminal, value))
        self.pieces.append(value)

    def _write_argument(self, terminal: str, value: str) -> None:
        assert self.predicate is not None
        self._feed(terminal, value)
        self.argument += 1
        if self.argument == len(self.pack.inputs[self.predicate]):
            self._feed("RPAR", ")")
            self._close_fact()
        else:
            self._feed("COMMA", ",")

    def _close_fact(self) -> None:
        self._feed("DOT", ".")
        self.pieces.append("\n")
        self.predicate, self.argument = None, 0

    def _skip_forced(self) -> None:
        """Write the arguments that have one possible value (``seq`` numbers)."""
        while self.predicate is not None and self.pack.inputs[self.predicate][self.argument] == "seq":
            if self.argument == 0 or all(t != "seq" for t in self.pack.inputs[self.predicate][:self.argument]):
                self.sequence += 1
            self._write_argument("INT", str(self.sequence))


_ACCEPTS_CACHE: dict[tuple[int, ...], frozenset[str]] = {}


def _treeless_parser() -> lark.parsers.lalr_interactive_parser.InteractiveParser:
    """Return an interactive parser of the fact language that checks the syntax but builds no tree.

    The writer's text comes from its pieces, so the tree is never read. Without the tree
    callbacks a reduction pushes a new list of its children and changes nothing in place,
    so parsers copied with a shallow value stack cannot change each other's values, as
    Lark's own ``accepts()`` relies on. With the callbacks, a left-recursive rule appends
    to its left child's list.
    """
    parser = fact_parser().parse_interactive("")
    conf = copy.copy(parser.parser_state.parse_conf)
    conf.callbacks = {}
    parser.parser_state.parse_conf = conf
    return parser


def _accepted_terminals(parser) -> frozenset[str]:
    """Return the terminals the parser accepts next; ``accepts()`` is slow, so cache it per state stack."""
    key = tuple(parser.parser_state.state_stack)
    accepted = _ACCEPTS_CACHE.get(key)
    if accepted is None:
        accepted = frozenset(parser.accepts())
        _ACCEPTS_CACHE[key] = accepted
    return accepted

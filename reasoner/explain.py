"""Derivations: which rule, with which atoms, derived each atom on the way to the answer.

The pack's rules are rewritten with clingo's AST: next to every rule ``H :- B.``
goes a traced copy ``reason_why(K, H, (P1, ..., Pn)) :- B.``, where K numbers
the rule and P1..Pn are the positive atoms of its body; a choice rule gets one
traced copy per element, which holds when the element was chosen. Solving the
traced program gives, for every derived atom, every rule instance that derives
it. :func:`derivation_tree` keeps for each atom the instance of least depth
(a shortest proof from the facts) and renders the tree from the answer down.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import clingo
from clingo import ast

WHY = "reason_why"
# A choice is an assumption, not a proof: any derivation by ordinary rules is preferred to it.
CHOICE_COST = 1000
# A rule that concludes from the absence of an atom ("not honest(P)") shows no reason for
# it, so a derivation by rules with positive bodies only is preferred where one exists.
DEFAULT_COST = 100


@dataclass(frozen=True)
class RuleInfo:
    file: str
    line: int
    text: str
    kind: str  # "rule", "default" (a rule with a negated body literal) or "choice"


class _NameAnonymous(ast.Transformer):
    """Give each anonymous variable ``_`` its own name, so the traced head may use it safely."""

    def __init__(self) -> None:
        self.count = 0

    def visit_Variable(self, node: ast.AST) -> ast.AST:
        if node.name != "_":
            return node
        self.count += 1
        return ast.Variable(node.location, f"ReasonAnonymous{self.count}")


def _name_positive(namer: _NameAnonymous, literal: ast.AST) -> ast.AST:
    """Name the anonymous variables of a positive literal; a negated one keeps ``_`` to stay safe."""
    if (literal.ast_type == ast.ASTType.Literal and literal.sign == ast.Sign.NoSign
            and literal.atom.ast_type == ast.ASTType.SymbolicAtom):
        return namer(literal)
    return literal


def _positive_atoms(body) -> list[ast.AST]:
    atoms = []
    for literal in body:
        if (literal.ast_type == ast.ASTType.Literal and literal.sign == ast.Sign.NoSign
                and literal.atom.ast_type == ast.ASTType.SymbolicAtom):
            atoms.append(literal.atom.symbol)
    return atoms


def _traced(location, number: int, head_term, body_atoms, body) -> ast.AST:
    tuple_term = ast.Function(location, "", list(body_atoms), False)
    why = ast.Function(location, WHY, [ast.SymbolicTerm(location, clingo.Number(number)), head_term, tuple_term], False)
    head = ast.Literal(location, ast.Sign.NoSign, ast.SymbolicAtom(why))
    return ast.Rule(location, head, list(body))


def trace_statement(statement: ast.AST, rules: list[RuleInfo]) -> list[ast.AST]:
    """Return the traced copies of one statement, appending their descriptions to ``rules``."""
    if statement.ast_type != ast.ASTType.Rule:
        return []
    head = statement.head
    namer = _NameAnonymous()
    body = [_name_positive(namer, literal) for literal in statement.body]
    location = statement.location
    info = (location.begin.filename, location.begin.line, str(statement))
    if head.ast_type == ast.ASTType.Literal and head.sign == ast.Sign.NoSign \
            and head.atom.ast_type == ast.ASTType.SymbolicAtom:
        negated = any(literal.ast_type == ast.ASTType.Literal and literal.sign != ast.Sign.NoSign
                      for literal in statement.body)
        rules.append(RuleInfo(*info, "default" if negated else "rule"))
        return [_traced(location, len(rules) - 1, head.atom.symbol, _positive_atoms(body), body)]
    if head.ast_type == ast.ASTType.Aggregate:
        traced = []
        for element in head.elements:
            literal = element.literal
            if literal.sign != ast.Sign.NoSign or literal.atom.ast_type != ast.ASTType.SymbolicAtom:
                continue
            rules.append(RuleInfo(*info, "choice"))
            condition = [_name_positive(namer, literal) for literal in element.condition]
            chosen = ast.Literal(location, ast.Sign.NoSign, literal.atom)
            full_body = list(body) + condition + [chosen]
            traced.append(_traced(location, len(rules) - 1, literal.atom.symbol,
                                  _positive_atoms(list(body) + condition), full_body))
        return traced
    return []


# Traced programs by the paths and contents of their rule files: parsing and rewriting a
# pack's knowledge base took most of the time of explaining an answer. The key hashes the
# bytes, because a copy that keeps the old modification time (cp -p, rsync -t) is still new.
_TRACED: dict[tuple, tuple[list[ast.AST], list[RuleInfo]]] = {}
MAX_TRACED = 8


def _traced_program(files: list[str], messages: list[str]) -> tuple[list[ast.AST], list[RuleInfo]]:
    """Return the statements of the traced program of ``files`` and its rule table, parsed once per file content.

    A failed parse or an unreadable file raises RuntimeError; a failed parse also appends
    clingo's messages to ``messages``.
    """
    try:
        key = tuple((name, hashlib.sha256(Path(name).read_bytes()).hexdigest()) for name in files)
    except OSError as error:
        raise RuntimeError(f"cannot read the rule file {error.filename}: {error.strerror}") from None
    if key not in _TRACED:
        statements: list[ast.AST] = []
        rules: list[RuleInfo] = []

        def add(statement: ast.AST) -> None:
            statements.append(statement)
            statements.extend(trace_statement(statement, rules))

        ast.parse_files(files, add, logger=lambda code, message: messages.append(message.strip()))
        if len(_TRACED) >= MAX_TRACED:
            _TRACED.pop(next(iter(_TRACED)))  # the oldest
        _TRACED[key] = statements, rules
    return _TRACED[key]


def solve_traced(files: list[str], facts: str, time_limit: float) -> dict[str, Any]:
    """Solve the traced program for one model; return its atoms, trace atoms and rule table.

    Runs inside the solver process (:mod:`reasoner.solver_worker`).
    """
    messages: list[str] = []
    control = clingo.Control(["--models=1"], logger=lambda code, message: messages.append(message.strip()),
                             message_limit=20)
    try:
        statements, rules = _traced_program(files, messages)
        with ast.ProgramBuilder(control) as builder:
            for statement in statements:
                builder.add(statement)
            ast.parse_string(facts, builder.add)
        control.ground([("base", [])])
    except RuntimeError as error:
        return {"status": "error", "message": "; ".join(messages) or str(error)}

    found: list[list] = []

    def on_model(model: clingo.Model) -> None:
        # Only the trace atoms, split into rule number, head and body here, where they are
        # symbols already: parsing their text again in the caller took longer than solving.
        found.append([
            [number.number, str(head), [str(atom) for atom in body.arguments]]
            for number, head, body in (symbol.arguments for symbol in model.symbols(atoms=True)
                                       if symbol.name == WHY and len(symbol.arguments) == 3)
        ])

    with control.solve(on_model=on_model, async_=True) as handle:
        if not handle.wait(time_limit):
            handle.cancel()
            return {"status": "error", "message": "explaining ran past the time limit"}
    if not found:
        return {"status": "error", "message": "the traced program has no answer set"}
    return {
        "status": "ok",
        "why": found[0],  # [rule number, head, [body atoms]] per rule instance that holds
        "rules": [[r.file, r.line, r.text, r.kind] for r in rules],
    }


@dataclass
class Node:
    atom: str
    rule: RuleInfo | None = None  # None for an input fact
    children: list["Node"] = field(default_factory=list)


def derivation_tree(reply: dict[str, Any], goal: str, facts: set[str]) -> Node:
    """Return the shortest derivation of ``goal`` from the traced solver reply."""
    rules = [RuleInfo(*entry) for entry in reply["rules"]]
    instances: dict[str, list[tuple[int, list[str]]]] = {}
    for number, head, body in reply["why"]:
        instances.setdefault(head, []).append((number, body))

    depth: dict[str, int] = {fact: 0 for fact in facts}
    best: dict[str, tuple[int, list[str]]] = {}
    changed = True
    while changed:
        changed = False
        for head, options in instances.items():
            for number, body in options:
                if all(atom in depth for atom in body):
                    candidate = 1 + max((depth[atom] for atom in body), default=0)
                    if rules[number].kind == "choice":
                        candidate += CHOICE_COST
                    elif rules[number].kind == "default":
                        candidate += DEFAULT_COST
                    if candidate < depth.get(head, 1 << 30):
                        depth[head] = candidate
                        best[head] = (number, body)
                        changed = True

    def build(atom: str, seen: frozenset[str]) -> Node:
        if atom in facts or atom not in best or atom in seen:
            return Node(atom)
        number, body = best[atom]
        return Node(atom, rules[number], [build(child, seen | {atom}) for child in body])

    return build(goal, frozenset())


def prolog_tree(nodes: list[list]) -> Node | None:
    """Build a derivation tree from the proof nodes of ``prove.pl`` ([id, parent, goal, file, line, clause])."""
    built: dict[int, Node] = {}
    root = None
    for identifier, parent, goal, file, line, clause in nodes:
        if file == "fact":
            rule = None
        elif file == "builtin":
            rule = RuleInfo("built-in", 0, "", "builtin")
        else:
            rule = RuleInfo(file, int(line), clause, "rule")
        node = Node(goal, rule)
        built[identifier] = node
        if parent == 0:
            root = node
        else:
            built[parent].children.append(node)
    return root


def render_tree(node: Node, root_dir: str = "") -> str:
    """Render a derivation as an indented tree, one atom per line with its rule's file and line.

    An atom derived earlier in the tree is shown once; later occurrences say "(derived above)".
    """
    lines: list[str] = []
    shown: set[str] = set()

    def label(item: Node) -> str:
        if item.rule is None:
            return f"{item.atom}   [fact]"
        file = item.rule.file
        if root_dir and file.startswith(root_dir):
            file = file[len(root_dir):].lstrip("/")
        if item.rule.kind == "builtin":
            return f"{item.atom}   [built-in]"
        if item.rule.kind == "search":
            return f"{item.atom}   [{item.rule.text}: every world of {file} was tried]"
        how = "chosen by" if item.rule.kind == "choice" else "by"
        return f"{item.atom}   [{how} {file}:{item.rule.line}  {item.rule.text}]"

    def walk(item: Node, prefix: str, last: bool, top: bool) -> None:
        repeated = item.rule is not None and item.atom in shown
        text = f"{item.atom}   (derived above)" if repeated else label(item)
        shown.add(item.atom)
        if top:
            lines.append(text)
            child_prefix = ""
        else:
            lines.append(f"{prefix}{'└── ' if last else '├── '}{text}")
            child_prefix = prefix + ("    " if last else "│   ")
        if repeated:
            return
        for i, child in enumerate(item.children):
            walk(child, child_prefix, i == len(item.children) - 1, False)

    walk(node, "", True, True)
    return "\n".join(lines)


def tree_to_json(node: Node) -> dict[str, Any]:
    data: dict[str, Any] = {"atom": node.atom}
    if node.rule is None:
        data["fact"] = True
    else:
        data.update(file=node.rule.file, line=node.rule.line, rule=node.rule.text, kind=node.rule.kind)
        data["from"] = [tree_to_json(child) for child in node.children]
    return data

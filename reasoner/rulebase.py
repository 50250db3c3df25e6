"""Auditing the rule base: structural checks, regression cases and per-pack documentation.

* :func:`check_pack` lists what a pack lacks: a header with purpose, inputs,
  answer and provenance; ``#defined`` for every declared input; a ``#show``;
  and no ``#script`` or ``#include``. It parses rule files with clingo's own parser.
* :func:`run_cases` solves each regression case and compares the outcome with
  its ``% expect:`` line.
* :func:`pack_doc` renders the Markdown page an auditor reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from clingo import ast

from reasoner.facts import TranslationError, parse_facts
from reasoner.packs import Pack
from reasoner.solver import Outcome, Solver

HEADER_FIELDS = ("Purpose:", "Inputs:", "Answer:", "Provenance:")
# "% expect:" values that name an outcome rather than an answer.
EXPECTED_OUTCOMES = {
    "<unsatisfiable>": Outcome.UNSATISFIABLE,
    "<several answers>": Outcome.SEVERAL_ANSWERS,
    "<no answer>": Outcome.NO_ANSWER,
    "<translation error>": Outcome.TRANSLATION_ERROR,
}


def forbidden_statements(path: Path) -> list[str]:
    """Return a description of each ``#script`` and ``#include`` in a clingo rule file."""
    found: list[str] = []

    def visit(statement: ast.AST) -> None:
        if statement.ast_type == ast.ASTType.Script:
            found.append(f"{path}:{statement.location.begin.line}: #script block")

    text = path.read_text(encoding="utf-8")
    messages: list[str] = []
    try:
        ast.parse_string(text, visit, logger=lambda code, message: messages.append(message.strip()))
    except RuntimeError as error:
        found.append(f"{path}: does not parse: {'; '.join(messages) or error}")
    # #include is resolved by the parser before statements reach the callback,
    # so it is looked for in the source text.
    for number, line in enumerate(text.split("\n"), start=1):
        if re.match(r"\s*#include\b", line):
            found.append(f"{path}:{number}: #include directive")
    return found


def _header(path: Path) -> str:
    lines = []
    for line in path.read_text(encoding="utf-8").split("\n"):
        if not line.startswith("%"):
            break
        lines.append(line)
    return "\n".join(lines)


def check_pack(pack: Pack) -> list[str]:
    """Return the problems of a pack; an empty list means the pack passes."""
    problems: list[str] = []
    if pack.engine != "clingo":
        for path in pack.rule_files:
            header = _header(path)
            problems += [f"{path}: header lacks '{f}'" for f in HEADER_FIELDS if f not in header]
        return problems
    defined: set[str] = set()
    shows = 0
    for path in pack.rule_files:
        header = _header(path)
        problems += [f"{path}: header lacks '{f}'" for f in HEADER_FIELDS if f not in header]
        problems += forbidden_statements(path)
        text = path.read_text(encoding="utf-8")
        defined |= set(re.findall(r"^#defined\s+([a-z]\w*/\d+)\s*\.", text, flags=re.MULTILINE))
        shows += len(re.findall(r"^#show\b", text, flags=re.MULTILINE))
    for name, types in pack.inputs.items():
        if f"{name}/{len(types)}" not in defined:
            problems.append(f"{pack.name}: input {name}/{len(types)} has no #defined declaration")
    if shows == 0:
        problems.append(f"{pack.name}: no #show statement")
    if not pack.cases:
        problems.append(f"{pack.name}: no regression cases in {pack.directory / 'cases'}")
    return problems


@dataclass
class CaseResult:
    pack: str
    case: str
    expected: str
    actual: str
    passed: bool
    message: str = ""


def run_cases(pack: Pack, solver: Solver) -> list[CaseResult]:
    results = []
    for case in pack.cases:
        expected_outcome = EXPECTED_OUTCOMES.get(case.expected)
        try:
            facts = parse_facts(case.facts_text)
        except TranslationError as error:
            actual = "<translation error>"
            results.append(CaseResult(pack.name, case.name, case.expected, actual,
                                      expected_outcome is Outcome.TRANSLATION_ERROR, str(error)))
            continue
        result = solver.solve(pack, facts)
        if result.outcome is Outcome.ANSWER:
            actual = result.answer or ""
        else:
            actual = f"<{result.outcome.value}>"
        results.append(CaseResult(pack.name, case.name, case.expected, actual, actual == case.expected, result.message))
    return results


def pack_doc(pack: Pack) -> str:
    """Return the Markdown page of a pack: purpose, inputs, answer, rule groups, provenance, cases."""
    lines = [f"# Rule pack `{pack.name}`", "", pack.purpose, ""]
    lines += [f"- Engine: {pack.engine}", f"- Serves: {', '.join(pack.subtasks) or 'no BBH subtask'}",
              f"- Answer predicate: `{pack.answer_predicate}`"]
    if pack.answer_domain:
        lines.append(f"- Answers without options: {', '.join(pack.answer_domain)}")
    if pack.unsatisfiable_answer:
        lines.append(f"- No answer set means: {pack.unsatisfiable_answer}")
    if pack.consecutive:
        skipped = f", passing over {', '.join(f'`{s}`' for s in pack.separators)}" if pack.separators else ""
        lines.append(f"- Transcribing: each copied word is the question's word after the previous copy{skipped}")
    if pack.list_ends_line:
        lines.append("- The list runs to the end of its line: the transcription stops only at a line break, "
                     "the end of the question, or `.`, `?` or `!`")
    if pack.list_after_colon:
        lines.append("- A colon before the list on its line introduces it: the transcription starts at the "
                     "word right after the last such colon and copies no colon")
    if pack.reads_forward:
        lines.append("- Reads words forward: each copied `word` argument comes after the previous one")
    lines += ["", "## Inputs", "", "| predicate | argument types |", "| --- | --- |"]
    for name, types in sorted(pack.inputs.items()):
        # A "|" inside a table cell must be escaped, even within backticks.
        described = ", ".join(f"`{t}`".replace("|", "\\|") for t in types)
        lines.append(f"| `{name}/{len(types)}` | {described} |")
    for path in pack.rule_files:
        lines += ["", f"## `{path.name}`", ""]
        header = [line[2:] if line.startswith("% ") else line[1:] for line in _header(path).split("\n")]
        lines += ["```text", *header, "```", "", "### Rule groups", ""]
        lines += _rule_groups(path)
    lines += ["", "## Regression cases", "", "| case | expected | facts |", "| --- | --- | --- |"]
    for case in pack.cases:
        facts = " ".join(line.strip() for line in case.facts_text.split("\n")[1:] if line.strip() and not line.startswith("%"))
        cell = f"`{facts}`".replace("|", "\\|")
        lines.append(f"| `{case.name}` | {case.expected} | {cell} |")
    return "\n".join(lines) + "\n"


def _rule_groups(path: Path) -> list[str]:
    """Return one Markdown list item per commented rule group, with its line and its rules."""
    items: list[str] = []
    text = path.read_text(encoding="utf-8").split("\n")
    in_header = True
    comment: tuple[int, str] | None = None
    rules: list[str] = []

    def flush() -> None:
        if comment and rules:
            body = "\n".join(f"      {r}" for r in rules)
            items.append(f"- line {comment[0]}: {comment[1]}\n\n{body}\n")

    for number, line in enumerate(text, start=1):
        if in_header:
            if line.startswith("%"):
                continue
            in_header = False
        stripped = line.strip()
        if stripped.startswith("%") and comment and not rules:
            # A comment that runs over several lines continues the group's comment.
            comment = (comment[0], f"{comment[1]} {stripped.lstrip('% ').strip()}")
        elif stripped.startswith("%"):
            flush()
            comment, rules = (number, stripped.lstrip("% ").strip()), []
        elif stripped and comment:
            rules.append(stripped)
        elif not stripped:
            flush()
            comment, rules = None, []
    flush()
    return items

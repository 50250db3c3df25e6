"""Rules learned from mistakes: the teacher proposes, the regression cases and the training split decide.

For training questions whose verified facts no longer give the gold answer
(the pack lacks knowledge), the teacher gets the pack's rules, the failing
facts and the gold answers (``training/prompts/propose_rules.md``) and
proposes rules or facts. A proposal is admitted only when

1. it parses as ASP and holds only rules and facts: no ``#script``,
   ``#include`` or any other directive;
2. every regression case of the pack still passes with it;
3. accuracy on the pack's training questions does not go down, and it rises.

An admitted proposal is appended to ``rules/<pack>/learned.lp`` under a
comment block with its provenance: teacher, date of the reply, SHA-256 of the
system prompt and of the request, the accuracy gain and the ids of the questions
that prompted it. A rejected one is logged, with the reason, in
``training/records/rejected_rules.jsonl``. :func:`learn_rules_rounds` repeats
the round with the questions still failing.
"""

from __future__ import annotations

import shutil
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

from clingo import ast

from reasoner.facts import parse_facts
from reasoner.packs import Pack, load_pack
from reasoner.question import normalize_answer, parse_question
from reasoner.rulebase import run_cases
from reasoner.solver import Solver
from training.annotate import RECORD_DIR, clean_response
from training.records import append_jsonl
from training.teacher import Reply, Teacher, TeacherError, sha256_text, utc_today

PROMPT_PATH = Path(__file__).parent / "prompts" / "propose_rules.md"
LEARNED_FILE = "learned.lp"
# Rules (facts and constraints included) and, where clingo's parser reports them, comments.
ALLOWED_STATEMENTS = {ast.ASTType.Rule} | ({ast.ASTType.Comment} if hasattr(ast.ASTType, "Comment") else set())
MAX_FAILURES_IN_PROMPT = 8


@dataclass
class TrainingCase:
    """A training question with verified facts and its gold answer."""

    id: str
    question: str
    facts: str
    gold: str


@dataclass
class Decision:
    admitted: bool
    reason: str
    accuracy_before: float
    accuracy_after: float | None = None


def pack_accuracy(pack: Pack, cases: list[TrainingCase], solver: Solver) -> tuple[float, list[TrainingCase]]:
    """Return the share of ``cases`` the pack answers correctly from their facts, and the failures."""
    failures = []
    for case in cases:
        result = solver.solve(pack, parse_facts(case.facts), parse_question(case.question))
        if not result.verified or normalize_answer(result.answer or "") != normalize_answer(case.gold):
            failures.append(case)
    return (1 - len(failures) / len(cases)) if cases else 1.0, failures


def statement_problems(text: str) -> list[str]:
    """Return why an ASP text is not admissible: parse errors and any statement but rules and facts."""
    problems: list[str] = []

    def visit(statement: ast.AST) -> None:
        if statement.ast_type == ast.ASTType.Program:
            return  # the implicit "#program base." that the parser adds
        if statement.ast_type not in ALLOWED_STATEMENTS:
            problems.append(f"line {statement.location.begin.line}: {statement.ast_type.name} is not allowed")

    messages: list[str] = []
    try:
        ast.parse_string(text, visit, logger=lambda code, message: messages.append(message.strip()))
    except RuntimeError as error:
        problems.append(f"does not parse: {'; '.join(messages) or error}")
    if "#include" in text or "#script" in text:
        problems.append("contains #include or #script")
    return problems


def build_prompt(pack: Pack, failures: list[TrainingCase]) -> tuple[str, str]:
    """Return the system prompt and the user message for a rule proposal."""
    rules = "\n\n".join(f"% file {path.name}\n{path.read_text(encoding='utf-8')}" for path in pack.rule_files)
    shown = failures[:MAX_FAILURES_IN_PROMPT]
    blocks = [f"Question {i + 1} (gold answer {case.gold}):\n{case.question}\nFacts:\n{case.facts}"
              for i, case in enumerate(shown)]
    message = f"Rule pack `{pack.name}`:\n\n{rules}\n\nFailing training questions:\n\n" + "\n\n".join(blocks)
    return PROMPT_PATH.read_text(encoding="utf-8"), message


def decide(pack: Pack, proposal: str, cases: list[TrainingCase], solver: Solver) -> Decision:
    """Test a proposal against the pack's regression cases and training questions."""
    before, _ = pack_accuracy(pack, cases, solver)
    problems = statement_problems(proposal)
    if problems:
        return Decision(False, "; ".join(problems), before)
    with tempfile.TemporaryDirectory() as scratch:
        trial_dir = Path(scratch) / pack.name
        shutil.copytree(pack.directory, trial_dir)
        learned = trial_dir / LEARNED_FILE
        existing = learned.read_text(encoding="utf-8") if learned.exists() else learned_header(pack)
        learned.write_text(existing + "\n" + proposal.strip() + "\n", encoding="utf-8")
        trial = load_pack(trial_dir)
        failed = [r for r in run_cases(trial, solver) if not r.passed]
        if failed:
            names = ", ".join(f"{r.case} (expected {r.expected}, got {r.actual})" for r in failed)
            return Decision(False, f"regression cases fail: {names}", before)
        after, _ = pack_accuracy(trial, cases, solver)
    if after < before:
        return Decision(False, f"training accuracy falls from {before:.3f} to {after:.3f}", before, after)
    if after == before:
        return Decision(False, f"training accuracy stays at {before:.3f}", before, after)
    return Decision(True, f"training accuracy rises from {before:.3f} to {after:.3f}", before, after)


def learned_header(pack: Pack) -> str:
    inputs = ", ".join(f"{name}/{len(types)}" for name, types in sorted(pack.inputs.items()))
    return (
        f"% Purpose: rules and knowledge for the {pack.name} pack that the teacher proposed after\n"
        "%   the student's failures, admitted because every regression case still passed and\n"
        "%   accuracy on the pack's training questions rose.\n"
        f"% Inputs: those of the pack ({inputs}).\n"
        f"% Answer: none directly; these rules feed the pack's {pack.answer_predicate}.\n"
        "% Provenance: one block per admitted proposal below, with the teacher, the date of its\n"
        "%   reply, the SHA-256 of the system prompt and of the request (the key of the reply in\n"
        "%   the teacher cache is built from them), the accuracy gain, and the training\n"
        "%   questions that prompted it. Admission ran the pack's regression cases and training\n"
        "%   questions only, so a fact about an item that none of them names is untested.\n"
    )


def admit(pack: Pack, proposal: str, reply: Reply, request_sha256: str, decision: Decision,
          question_ids: list[str]) -> Path:
    """Append an admitted proposal to the pack's learned file with its provenance.

    The block carries the date of the teacher's reply (today when the cache
    entry has no valid date). A replayed reply keeps its own date, so the
    learned file, and the prompt of a later round that shows it, are the same
    on every replay.
    """
    path = pack.directory / LEARNED_FILE
    text = path.read_text(encoding="utf-8") if path.exists() else learned_header(pack)
    questions = textwrap.wrap(f"Training questions that prompted it: {', '.join(question_ids)}.", 88,
                              subsequent_indent="  ")
    lines = [
        "",
        f"% Proposed by {reply.model} on {reply.date or utc_today()} "
        f"(prompt sha256 {reply.prompt_sha256[:16]}, request sha256 {request_sha256[:16]}).",
        f"% Admitted: accuracy on the pack's training questions rose from {decision.accuracy_before:.3f} "
        f"to {decision.accuracy_after:.3f}.",
        *(f"% {line}" for line in questions),
        proposal.strip(),
    ]
    block = "\n".join(lines) + "\n"
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text + block, encoding="utf-8")
    temporary.replace(path)
    return path


def learn_rules(pack: Pack, cases: list[TrainingCase], teacher: Teacher, solver: Solver,
                record_dir: Path = RECORD_DIR, echo=print) -> Decision | None:
    """Run one proposal round for a pack; return the decision, or None when nothing fails."""
    before, failures = pack_accuracy(pack, cases, solver)
    if not failures:
        echo(f"{pack.name}: every training question is answered; nothing to learn")
        return None
    prompt, message = build_prompt(pack, failures)
    reply = teacher.ask(prompt, message)
    proposal = clean_response(reply.text)
    decision = decide(pack, proposal, cases, solver)
    ids = [case.id for case in failures[:MAX_FAILURES_IN_PROMPT]]
    if decision.admitted:
        path = admit(pack, proposal, reply, sha256_text(message), decision, ids)
        echo(f"{pack.name}: admitted into {path}: {decision.reason}")
    else:
        append_jsonl(record_dir / "rejected_rules.jsonl", {
            "pack": pack.name, "teacher": reply.model, "prompt_sha256": sha256_text(prompt),
            "date": utc_today(), "questions": ids, "proposal": proposal, "reason": decision.reason,
        })
        echo(f"{pack.name}: rejected: {decision.reason}")
    return decision


def learn_rules_rounds(pack: Pack, cases: list[TrainingCase], teacher: Teacher, solver: Solver, rounds: int,
                       record_dir: Path = RECORD_DIR, echo=print) -> list[Decision]:
    """Run up to ``rounds`` proposal rounds; return their decisions.

    Each round sends the questions that still fail, with the rules admitted so
    far, so a teacher that fixed some failures gets to fix the rest. The rounds
    stop when nothing fails or a proposal is rejected. A teacher error ends them
    too: it is raised, and what earlier rounds admitted stays in the learned file.
    """
    decisions: list[Decision] = []
    for number in range(1, rounds + 1):
        try:
            decision = learn_rules(pack, cases, teacher, solver, record_dir,
                                   lambda line, number=number: echo(f"round {number}: {line}"))
        except TeacherError:
            admitted = sum(d.admitted for d in decisions)
            if admitted:
                proposals = "proposal" if admitted == 1 else "proposals"
                echo(f"round {number}: the teacher failed; {pack.directory / LEARNED_FILE} keeps the {admitted} "
                     f"{proposals} admitted in earlier rounds")
            raise
        if decision is None:
            break
        decisions.append(decision)
        if not decision.admitted:
            break
        pack = load_pack(pack.directory)
    return decisions


def training_cases(pack: Pack, bbh=None, synthetic: bool = True) -> list[TrainingCase]:
    """Return the pack's training questions with verified facts: BBH records (when ``bbh``) and teacher-written ones."""
    from training.annotate import SYNTHETIC_DIR, record_path
    from training.records import read_jsonl

    cases = []
    if bbh is not None:
        for subtask in pack.subtasks:
            for record in read_jsonl(record_path(subtask)):
                example = bbh.example(subtask, record["index"])
                if example.sha256 == record["input_sha256"]:
                    cases.append(TrainingCase(example.id, example.input, record["facts"], example.target))
    if synthetic:
        for record in read_jsonl(SYNTHETIC_DIR / f"{pack.name}.jsonl"):
            cases.append(TrainingCase(f"synthetic/{record['id']}", record["question"], record["facts"], record["answer"]))
    return cases

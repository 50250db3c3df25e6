"""Solver feedback: the verdict of the rule base on one translation of one question.

Annotation, co-training and evaluation all judge a translation the same way:
parse it, check it against the pack's inputs, solve it, and compare the answer
with the gold answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from reasoner.facts import TranslationError, parse_facts
from reasoner.packs import Pack
from reasoner.question import normalize_answer, parse_question
from reasoner.solver import Outcome, Solver, SolveResult


@dataclass(frozen=True)
class Verdict:
    verified: bool
    outcome: str
    answer: str | None
    message: str = ""


def judge(solver: Solver, pack: Pack, question_text: str, facts_text: str, gold: str) -> Verdict:
    """Return whether ``facts_text`` makes the solver give the ``gold`` answer to the question."""
    try:
        facts = parse_facts(facts_text)
    except TranslationError as error:
        return Verdict(False, Outcome.TRANSLATION_ERROR.value, None, str(error))
    result: SolveResult = solver.solve(pack, facts, parse_question(question_text))
    if result.outcome is not Outcome.ANSWER:
        return Verdict(False, result.outcome.value, None, result.message)
    if normalize_answer(result.answer or "") != normalize_answer(gold):
        return Verdict(False, "wrong answer", result.answer, f"solver answered {result.answer}, gold is {gold}")
    return Verdict(True, Outcome.ANSWER.value, result.answer)

"""Answering one question: translate, solve, and fall back when nothing is verified.

1. Split the options off the question (:mod:`reasoner.question`).
2. The student routes the question to a pack and returns candidate
   translations, best first (:mod:`reasoner.student`).
3. Each candidate is parsed, checked against the pack's inputs and solved
   (:mod:`reasoner.solver`) until one gives a unique answer that is among the
   options. That answer is verified: it comes with the facts and rules that derive it.
4. When no candidate is verified, the student's chain of thought answers
   instead, and the answer is marked unverified (:mod:`reasoner.fallback`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from reasoner.facts import TranslationError, parse_facts
from reasoner.fallback import Fallback
from reasoner.packs import Pack, load_packs
from reasoner.paths import RULES_DIR
from reasoner.question import Question, parse_question
from reasoner.solver import DEFAULT_TIME_LIMIT, Outcome, Solver, SolverError, SolveResult, explain
from reasoner.student import StudentModel
from reasoner.student.encoder import EncodedQuestion

log = logging.getLogger("reasoner")

ROUTE_SOLVER = "solver"
ROUTE_FALLBACK = "fallback"
# Candidates tried per question before falling back.
MAX_CANDIDATES = 6
# Seconds of decoding per question; a very long question (a path of hundreds of
# points) falls back instead of translating for minutes.
DEFAULT_TRANSLATE_LIMIT = 30.0


@dataclass
class Attempt:
    """One candidate translation and what the solver made of it."""

    pack: str
    facts: str
    score: float
    outcome: str
    message: str = ""
    answer: str | None = None


@dataclass
class Answer:
    question: Question
    answer: str | None
    route: str  # "solver" (verified) or "fallback" (unverified)
    pack: str | None = None
    facts: str | None = None
    solve_result: SolveResult | None = None
    attempts: list[Attempt] = field(default_factory=list)
    rationale: str | None = None
    times: dict[str, float] = field(default_factory=dict)
    # Derivation tree of a verified answer (reasoner.explain.Node), when requested.
    derivation: object | None = None
    # Whether decoding reached the translation time limit before a candidate was verified.
    translation_timed_out: bool = False

    @property
    def verified(self) -> bool:
        return self.route == ROUTE_SOLVER


@dataclass
class _Progress:
    """One question of a batch on its way through :meth:`Reasoner.answer_many`."""

    question: Question
    encoded: EncodedQuestion
    attempts: list[Attempt] = field(default_factory=list)
    candidates: list = field(default_factory=list)
    tried: set[str] = field(default_factory=set)
    times: dict[str, float] = field(default_factory=lambda: {"encode": 0.0, "translate": 0.0, "solve": 0.0})
    pack: str | None = None  # for the fallback: the pack of the best candidate, or the router's
    answer: Answer | None = None


class Reasoner:
    """The whole pipeline; holds the student, the solver process and the packs. Not thread-safe."""

    def __init__(
        self,
        student: StudentModel,
        fallback: Fallback | None = None,
        rules_dir: Path = RULES_DIR,
        time_limit: float = DEFAULT_TIME_LIMIT,
        max_candidates: int = MAX_CANDIDATES,
        beam_size: int = 6,
        use_solver: bool = True,
        translate_limit: float = DEFAULT_TRANSLATE_LIMIT,
        solver: Solver | None = None,
    ):
        self.student = student
        self.fallback = fallback or Fallback(student)
        self.packs: dict[str, Pack] = load_packs(rules_dir)
        self.solver = solver or Solver()
        self.solver.start()
        self.time_limit = time_limit
        self.translate_limit = translate_limit
        self.max_candidates = max_candidates
        self.beam_size = beam_size
        # Without the solver every question goes to the chain of thought: the neural-only baseline.
        self.use_solver = use_solver

    def close(self) -> None:
        self.solver.close()

    def __enter__(self) -> "Reasoner":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def answer(self, text: str, pack: str | None = None, explain_answer: bool = False) -> Answer:
        """Answer the question ``text``; ``pack`` overrides the router.

        With ``explain_answer``, a verified answer carries its derivation tree.
        """
        return self.answer_many([text], pack, explain_answer)[0]

    def answer_many(self, texts: list[str], pack: str | None = None, explain_answer: bool = False) -> list[Answer]:
        """Answer several questions as :meth:`answer` does one, with their translations batched.

        The greedy decoding of all the questions shares one batch of model calls,
        and so do the beam search of those whose greedy translation is not verified
        and the chains of thought of those that fall back, which raises throughput.
        Solving runs one question after another. A question's ``times`` count from the
        start of the batch: its ``encode`` and ``translate`` times are those of the
        whole batch, and its ``total`` runs until its own answer was found.

        NOTE: the translation time limit bounds the batch's decoding as a whole, so a
        limit that one question alone would stay within can stop it in a large batch.
        """
        started = time.perf_counter()
        questions = [parse_question(text) for text in texts]
        everyone = [_Progress(question, self.student.encode(question.text)) for question in questions]
        for progress in everyone:
            progress.times["encode"] = time.perf_counter() - started
        pending = everyone
        # Greedy decoding first: its single candidate is verified for most questions at a
        # fraction of the cost of the beam search, which runs only when greedy fails.
        for beam_size in (1, self.beam_size) if self.use_solver else ():
            if not pending:
                break
            translating = time.perf_counter()
            # The limit counts decoding time only; solving the greedy candidates does not use it up.
            deadline = time.monotonic() + self.translate_limit - pending[0].times["translate"]
            found = self.student.translate_many([p.question.text for p in pending], pack, beam_size,
                                                [p.encoded for p in pending], deadline)
            elapsed = time.perf_counter() - translating
            for progress, candidates in zip(pending, found):
                progress.times["translate"] += elapsed
                progress.answer = self._solve_candidates(progress, candidates, started, explain_answer)
            pending = [progress for progress in pending if progress.answer is None]
        if pending:
            for progress, answer in zip(pending, self._fall_back(pending, started)):
                progress.answer = answer
        return [progress.answer for progress in everyone]

    def _solve_candidates(self, progress: "_Progress", new: list, started: float,
                          explain_answer: bool) -> Answer | None:
        """Solve the candidates not tried yet, best first; return the first verified answer, or None."""
        new = [c for c in new if c.facts not in progress.tried]
        progress.candidates += new
        times = progress.times
        for candidate in new:
            if len(progress.tried) >= self.max_candidates:
                break
            progress.tried.add(candidate.facts)
            solving = time.perf_counter()
            attempt, result, facts = self._try(candidate, progress.question)
            progress.attempts.append(attempt)
            times["solve"] += time.perf_counter() - solving
            if result is None or not result.verified:
                continue
            derivation = None
            if explain_answer:
                explaining = time.perf_counter()
                try:
                    derivation = explain(self.solver, self.packs[candidate.pack], facts, result, self.time_limit)
                except SolverError as error:
                    # The answer stays verified; only its derivation is missing (the solver restarts next time).
                    log.warning("solver process failed while explaining a %s answer: %s", candidate.pack, error)
                times["explain"] = time.perf_counter() - explaining
            times["total"] = time.perf_counter() - started
            return Answer(progress.question, result.answer, ROUTE_SOLVER, candidate.pack, candidate.facts,
                          result, progress.attempts, times=times, derivation=derivation)
        return None

    def _fall_back(self, pending: list["_Progress"], started: float) -> list[Answer]:
        """Answer each pending question by the student's chain of thought, unverified; the chains are one batch."""
        falling_back = time.perf_counter()
        domains = []
        for progress in pending:
            candidates = sorted(progress.candidates, key=lambda c: c.score, reverse=True)
            progress.pack = candidates[0].pack if candidates else None
            if progress.pack is None:
                routed = self.student.route(progress.encoded)[0][0]
                progress.pack = routed if routed in self.packs else None
            domains.append(self.packs[progress.pack].answer_domain if progress.pack else ())
        written = self.fallback.answer_many([p.question for p in pending], [p.encoded for p in pending], domains)
        answers = []
        for progress, fallback in zip(pending, written):
            times = progress.times
            timed_out = self.use_solver and times["translate"] >= self.translate_limit
            if timed_out:
                log.warning("translation stopped at the %.0f s limit; falling back to the chain of thought",
                            self.translate_limit)
            times["fallback"] = time.perf_counter() - falling_back
            times["total"] = time.perf_counter() - started
            answers.append(Answer(progress.question, fallback.answer, ROUTE_FALLBACK, progress.pack, None, None,
                                  progress.attempts, fallback.rationale, times, translation_timed_out=timed_out))
        return answers

    def _try(self, candidate, question: Question):
        """Parse and solve one candidate; return its attempt record, the solve result and the facts."""
        try:
            facts = parse_facts(candidate.facts)
        except TranslationError as error:  # cannot happen with constrained decoding; kept as a guard
            attempt = Attempt(candidate.pack, candidate.facts, candidate.score,
                              Outcome.TRANSLATION_ERROR.value, str(error))
            return attempt, None, None
        try:
            result = self.solver.solve(self.packs[candidate.pack], facts, question, self.time_limit)
        except SolverError as error:
            # The solver process died (it is restarted for the next candidate); the question goes on.
            log.warning("solver process failed on a %s candidate: %s", candidate.pack, error)
            attempt = Attempt(candidate.pack, candidate.facts, candidate.score, Outcome.SOLVER_ERROR.value, str(error))
            return attempt, None, None
        attempt = Attempt(candidate.pack, candidate.facts, candidate.score, result.outcome.value,
                          result.message, result.answer)
        return attempt, result, facts

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
from reasoner.fallback import Fallback, FallbackAnswer
from reasoner.packs import Pack, load_packs
from reasoner.paths import RULES_DIR
from reasoner.question import Question, parse_question
from reasoner.solver import DEFAULT_TIME_LIMIT, Outcome, Solver, SolverError, SolveResult, explain
from reasoner.student import StudentModel

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
        """Answer several questions as :meth:`answer` does one, with their greedy translations batched.

        Greedy decoding of all the questions shares one batch of model calls, which
        raises throughput; a question whose greedy translation is not verified goes
        on alone. A question's ``times`` count from the start of the batch: its
        ``encode`` and ``translate`` times are those of the whole batch's encoding and
        greedy decoding, and its ``total`` is the latency a caller of the batch sees.
        """
        started = time.perf_counter()
        questions = [parse_question(text) for text in texts]
        encoded = [self.student.encode(question.text) for question in questions]
        greedy: list[list] = [[] for _ in questions]
        translating = time.perf_counter()
        if self.use_solver:
            # Greedy decoding first: its single candidate is verified for most questions at a
            # fraction of the cost of the beam search, which runs only when greedy fails.
            deadline = time.monotonic() + self.translate_limit
            greedy = self.student.translate_many([q.text for q in questions], pack, 1, encoded, deadline)
        decoded = time.perf_counter()
        answers = []
        for question, states, candidates in zip(questions, encoded, greedy):
            times = {"encode": translating - started, "translate": decoded - translating, "solve": 0.0}
            answers.append(self._finish(question, states, candidates, times, started, pack, explain_answer))
        return answers

    def _finish(self, question: Question, encoded, greedy: list, times: dict[str, float], started: float,
                pack: str | None, explain_answer: bool) -> Answer:
        """Solve the greedy candidates; if none is verified, search a beam, then fall back."""
        attempts: list[Attempt] = []
        candidates: list = []
        tried: set[str] = set()
        for beam_size in (1, self.beam_size) if self.use_solver else ():
            if beam_size == 1:
                new = greedy
            else:
                translating = time.perf_counter()
                # The limit counts decoding time only; solving the greedy candidate does not use it up.
                deadline = time.monotonic() + self.translate_limit - times["translate"]
                new = self.student.translate(question.text, pack=pack, beam_size=beam_size, encoded=encoded,
                                             deadline=deadline)
                times["translate"] += time.perf_counter() - translating
            new = [c for c in new if c.facts not in tried]
            candidates += new
            for candidate in new:
                if len(tried) >= self.max_candidates:
                    break
                tried.add(candidate.facts)
                solving = time.perf_counter()
                attempt, result, facts = self._try(candidate, question)
                attempts.append(attempt)
                times["solve"] += time.perf_counter() - solving
                if result is None or not result.verified:
                    continue
                derivation = None
                if explain_answer:
                    explaining = time.perf_counter()
                    derivation = explain(self.solver, self.packs[candidate.pack], facts, result, self.time_limit)
                    times["explain"] = time.perf_counter() - explaining
                times["total"] = time.perf_counter() - started
                return Answer(question, result.answer, ROUTE_SOLVER, candidate.pack, candidate.facts,
                              result, attempts, times=times, derivation=derivation)

        timed_out = self.use_solver and times["translate"] >= self.translate_limit
        if timed_out:
            log.warning("translation stopped at the %.0f s limit; falling back to the chain of thought",
                        self.translate_limit)
        falling_back = time.perf_counter()
        candidates.sort(key=lambda c: c.score, reverse=True)
        best_pack = candidates[0].pack if candidates else None
        if best_pack is None:
            routed = self.student.route(encoded)[0][0]
            best_pack = routed if routed in self.packs else None
        domain = self.packs[best_pack].answer_domain if best_pack else ()
        fallback: FallbackAnswer = self.fallback.answer(question, encoded, domain)
        times["fallback"] = time.perf_counter() - falling_back
        times["total"] = time.perf_counter() - started
        return Answer(question, fallback.answer, ROUTE_FALLBACK, best_pack, None, None, attempts,
                      fallback.rationale, times, translation_timed_out=timed_out)

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

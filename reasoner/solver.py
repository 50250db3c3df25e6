"""Solving facts against a rule pack, with a wall-clock limit, and naming the outcome.

Each question is solved with a fresh ``clingo.Control`` in a separate solver
process (:mod:`reasoner.solver_worker`). The process stays up between
questions; when a question runs past its time limit, grounding included, the
process is killed and a new one starts for the next question, so a runaway
grounding cannot hang the caller.

>>> from reasoner.packs import load_packs
>>> from reasoner.facts import parse_facts
>>> with Solver() as solver:
...     result = solver.solve(load_packs()["web_of_lies"], parse_facts('given("Ann",truth). ask("Ann").'))
>>> result.outcome, result.answer
(<Outcome.ANSWER: 'answer'>, 'Yes')
"""

from __future__ import annotations

import enum
import json
import logging
import os
import select
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from reasoner.facts import Fact, TranslationError, check_facts, render_facts
from reasoner.packs import Pack
from reasoner.paths import ROOT
from reasoner.question import Question, normalize_answer

log = logging.getLogger("reasoner")

DEFAULT_TIME_LIMIT = 10.0
# Projected models enumerated per question: two distinct answers already make
# the answer ambiguous, a few more make the report informative.
MAX_MODELS = 5
# Extra seconds the parent waits beyond the limit for the worker's own reply.
_GRACE = 1.0


class Outcome(str, enum.Enum):
    """How solving one candidate translation ended."""

    ANSWER = "answer"  # one answer, and it is among the options
    UNSATISFIABLE = "unsatisfiable"  # the facts contradict the rules
    NO_ANSWER = "no answer"  # satisfiable, but no answer atom is derived
    SEVERAL_ANSWERS = "several answers"  # the facts leave the answer open
    NOT_AN_OPTION = "not an option"  # one answer, but the question does not offer it
    TIME_LIMIT = "time limit"  # grounding or solving ran past the time limit
    TRANSLATION_ERROR = "translation error"  # facts do not fit the pack's inputs
    SOLVER_ERROR = "solver error"  # the rule pack failed to load or ground


@dataclass
class SolveResult:
    outcome: Outcome
    # The answer as the question's options write it, when the outcome is ANSWER.
    answer: str | None = None
    # The distinct answer values the models gave.
    values: list[str] = field(default_factory=list)
    # Shown atoms of each model found (at most MAX_MODELS).
    models: list[list[str]] = field(default_factory=list)
    # Every atom of the first model, when the caller asked for them.
    atoms: list[str] = field(default_factory=list)
    exhausted: bool = False
    times: dict[str, float] = field(default_factory=dict)
    message: str = ""

    @property
    def verified(self) -> bool:
        return self.outcome is Outcome.ANSWER


class SolverError(RuntimeError):
    """The solver process could not be started or broke its protocol."""


def check_option_facts(facts: Sequence[Fact], pack: Pack, question: Question) -> None:
    """Check that each option fact restates the option it labels.

    ``option(L, Name)`` must use a label L of the question, and the constant Name
    must read as that option's text ("other" for a text that no constant names).
    Raises :class:`TranslationError` otherwise, so a translation that writes
    options from memory instead of from the question is never solved.
    """
    choices = pack.inputs[pack.option_fact][1].split("|")
    texts = {normalize_answer(o.label or ""): normalize_answer(o.text) for o in question.options}
    for fact in facts:
        if fact.predicate != pack.option_fact:
            continue
        label, name = fact.args
        text = texts.get(normalize_answer(str(label)))
        if text is None:
            raise TranslationError(f"{fact.signature}: option label {label!r} not found in the question",
                                   fact.line, fact.column)
        named = [c for c in choices if normalize_answer(c.replace("_", " ")) == text]
        expected = named[0] if named else "other"
        if str(name) != expected:
            raise TranslationError(f"{fact.signature}: invalid name {name} for option {label} ({text!r}); "
                                   f"expected {expected}", fact.line, fact.column)


class Solver:
    """A client of one solver process; not thread-safe, use one per thread or process."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> "Solver":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self) -> None:
        """Start the solver process now rather than at the first question."""
        if self._process is None or self._process.poll() is not None:
            environment = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
            self._process = subprocess.Popen(
                [sys.executable, "-m", "reasoner.solver_worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                encoding="utf-8",
                env=environment,
                bufsize=1,
            )

    def close(self) -> None:
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
            self._process.wait()
            for stream in (self._process.stdin, self._process.stdout):
                if stream:
                    try:
                        stream.close()
                    except BrokenPipeError:
                        pass  # closing flushes a request that the dead process never read
            self._process = None

    def run(self, request: dict[str, Any], time_limit: float) -> dict[str, Any] | None:
        """Send one request and return the worker's reply, or None when the time limit passed."""
        self.start()
        assert self._process is not None and self._process.stdin and self._process.stdout
        try:
            self._process.stdin.write(json.dumps(request) + "\n")
            self._process.stdin.flush()
        except BrokenPipeError:
            self.close()
            raise SolverError("the solver process exited unexpectedly") from None
        ready, _, _ = select.select([self._process.stdout], [], [], time_limit + _GRACE)
        if not ready:
            log.warning("solver process killed after %.1f s (time limit)", time_limit)
            self.close()
            return None
        line = self._process.stdout.readline()
        if not line:
            self.close()
            raise SolverError("the solver process exited unexpectedly")
        return json.loads(line)

    def solve(
        self,
        pack: Pack,
        facts: Sequence[Fact],
        question: Question | None = None,
        time_limit: float = DEFAULT_TIME_LIMIT,
        show_all: bool = False,
    ) -> SolveResult:
        """Solve ``facts`` against ``pack`` and classify the outcome.

        ``question`` supplies the options that an answer must be among; without
        it, an answer is accepted when it is in the pack's answer domain (or
        any answer when the pack declares none).
        """
        started = time.perf_counter()
        try:
            check_facts(facts, pack.inputs)
            if pack.option_fact and question is not None and question.options:
                check_option_facts(facts, pack, question)
        except TranslationError as error:
            return SolveResult(Outcome.TRANSLATION_ERROR, message=str(error))

        request = {
            "engine": pack.engine,
            "pack": pack.name,
            "files": [str(path) for path in pack.rule_files],
            "facts": render_facts(facts),
            "prolog_facts": [fact.render_prolog()[:-1] for fact in facts] if pack.engine == "prolog" else [],
            "inputs": {name: len(types) for name, types in pack.inputs.items()},
            "answer": pack.answer_predicate,
            "time_limit": time_limit,
            "max_models": MAX_MODELS,
            "show_all": show_all,
        }
        reply = self.run(request, time_limit)
        elapsed = time.perf_counter() - started
        if reply is None:
            return SolveResult(
                Outcome.TIME_LIMIT,
                times={"total": elapsed},
                message=f"no result within the time limit of {time_limit:g} s",
            )
        if reply["status"] != "ok":
            return SolveResult(Outcome.SOLVER_ERROR, times={"total": elapsed}, message=reply["message"])
        return classify(reply, pack, question)


def explain(solver: Solver, pack: Pack, facts: Sequence[Fact], result: SolveResult,
            time_limit: float = DEFAULT_TIME_LIMIT):
    """Return the derivation tree (:class:`reasoner.explain.Node`) of a verified answer, or None.

    Returns None for unverified results and when tracing fails; the reason is logged.
    """
    from reasoner.explain import derivation_tree, prolog_tree

    if not result.verified:
        return None
    if not result.models and pack.unsatisfiable_answer:
        from reasoner.explain import Node, RuleInfo

        # A refutation search that failed everywhere has no derivation to show,
        # only the exhausted search: say so, pointing at the pack's rules.
        rule = RuleInfo(str(pack.rule_files[0]), 1, "the search for a counter-model found none", "search")
        return Node(f'{pack.answer_predicate.split("/")[0]}("{pack.unsatisfiable_answer}")', rule)
    if not result.models:
        return None
    if pack.engine == "prolog":
        request = {"engine": "prolog", "explain": True, "pack": pack.name,
                   "files": [str(p) for p in pack.rule_files], "answer": pack.answer_predicate,
                   "inputs": {name: len(types) for name, types in pack.inputs.items()},
                   "prolog_facts": [fact.render_prolog()[:-1] for fact in facts], "time_limit": time_limit}
        reply = solver.run(request, time_limit)
        if reply is None or reply.get("status") != "ok":
            log.warning("no derivation: %s", "time limit" if reply is None else reply.get("message"))
            return None
        return prolog_tree(reply["nodes"])
    name = pack.answer_predicate.split("/")[0]
    goals = [atom for atom in result.models[0] if atom.startswith(name + "(")]
    if not goals or (len(goals) > 1 and not pack.answer_predicate.endswith("/2")):
        return None
    request = {"engine": "clingo", "explain": True, "files": [str(p) for p in pack.rule_files],
               "facts": render_facts(facts), "time_limit": time_limit}
    reply = solver.run(request, time_limit)
    if reply is None or reply.get("status") != "ok":
        log.warning("no derivation for %s: %s", goals[0], "time limit" if reply is None else reply.get("message"))
        return None
    fact_atoms = {fact.render()[:-1] for fact in facts}
    if len(goals) == 1:
        return derivation_tree(reply, goals[0], fact_atoms)
    # A sequence answer: one derivation per element, under a root that names the whole answer.
    from reasoner.explain import Node

    return Node(f"{pack.answer_predicate} = {result.values[0]!r}", None,
                [derivation_tree(reply, goal, fact_atoms) for goal in goals])


def classify(reply: dict[str, Any], pack: Pack, question: Question | None) -> SolveResult:
    """Name the outcome of a worker reply."""
    models = reply["models"]
    shown = [model["shown"] for model in models]
    values = sorted({value for model in models for value in model["answers"]})
    common = {"values": values, "models": shown, "exhausted": reply["exhausted"], "times": reply["times"],
              "atoms": models[0].get("atoms", []) if models else []}

    if reply["interrupted"]:
        return SolveResult(Outcome.TIME_LIMIT, message="solving was interrupted at the time limit", **common)
    if not models:
        if pack.unsatisfiable_answer and reply["exhausted"]:
            # The pack searched for a refutation and the search space holds none.
            answer = (question or Question(text="", stem="")).match(pack.unsatisfiable_answer, pack.answer_domain)
            if answer is not None:
                return SolveResult(Outcome.ANSWER, answer=answer, values=[pack.unsatisfiable_answer],
                                   models=[], exhausted=True, times=reply["times"],
                                   message="no counter-model exists")
        return SolveResult(Outcome.UNSATISFIABLE, message="the facts contradict the pack's rules", **common)
    if len(models) == 1 and len(models[0]["answers"]) == 1:
        value = models[0]["answers"][0]
        question = question or Question(text="", stem="")
        answer = question.match(value, pack.answer_domain)
        if answer is None:
            return SolveResult(
                Outcome.NOT_AN_OPTION, message=f"the answer {value!r} is not among the options", **common
            )
        return SolveResult(Outcome.ANSWER, answer=answer, **common)
    if not values:
        return SolveResult(Outcome.NO_ANSWER, message="no answer is derived from the facts", **common)
    return SolveResult(
        Outcome.SEVERAL_ANSWERS,
        message=f"the facts allow several answers: {', '.join(values)}",
        **common,
    )

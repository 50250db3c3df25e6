"""Evaluation on BBH: accuracy per subtask, answer routes, failure classes, speed and memory.

Each question is answered by the full pipeline. An answer counts as correct
when it equals the gold target after :func:`reasoner.question.normalize_answer`.
A question is *executable* when at least one candidate translation was solved
to completion (no translation error, solver error or time limit), as in
Logic-LM's executable rate.
"""

from __future__ import annotations

import concurrent.futures
import json
import multiprocessing
import os
import resource
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from reasoner.bbh import BBH, Example
from reasoner.question import normalize_answer

COMPLETED_OUTCOMES = {"answer", "unsatisfiable", "no answer", "several answers", "not an option"}


@dataclass
class QuestionResult:
    subtask: str
    index: int
    target: str
    answer: str | None
    correct: bool
    route: str
    pack: str | None
    executable: bool
    rejected: list[str]  # outcomes of the candidates tried before the answer
    seconds: float
    has_derivation: bool


@dataclass
class SubtaskReport:
    subtask: str
    questions: int
    accuracy: float
    solver_share: float
    solver_accuracy: float | None
    fallback_accuracy: float | None
    executable_rate: float
    failure_classes: dict[str, int] = field(default_factory=dict)


@dataclass
class EvalReport:
    split: str
    subtasks: list[SubtaskReport]
    mean_accuracy: float
    solver_share: float
    latency_p50_ms: float
    latency_p95_ms: float
    throughput_qps: float
    peak_memory_mb: float
    workers: int
    wall_seconds: float
    # Questions answered together; a question's latency counts from the start of its batch.
    batch_size: int = 1
    results: list[QuestionResult] = field(default_factory=list)

    def to_json(self) -> dict:
        data = asdict(self)
        return data


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    position = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[position]


def answer_example(reasoner, example: Example) -> QuestionResult:
    return answer_examples(reasoner, [example])[0]


def answer_examples(reasoner, examples: list[Example]) -> list[QuestionResult]:
    """Answer ``examples`` as one batch (see :meth:`reasoner.pipeline.Reasoner.answer_many`).

    A question's ``seconds`` count from the start of its batch.
    """
    answers = reasoner.answer_many([example.input for example in examples], explain_answer=True)
    results = []
    for example, answer in zip(examples, answers):
        correct = answer.answer is not None and normalize_answer(answer.answer) == normalize_answer(example.target)
        executable = any(a.outcome in COMPLETED_OUTCOMES for a in answer.attempts)
        # Outcomes of the candidates rejected before the answer (all of them when the answer is unverified).
        rejected = [a.outcome for a in (answer.attempts[:-1] if answer.verified else answer.attempts)]
        results.append(QuestionResult(
            example.subtask, example.index, example.target, answer.answer, correct, answer.route, answer.pack,
            executable, rejected, answer.times["total"], answer.derivation is not None,
        ))
    return results


# -- worker processes -----------------------------------------------------------

_WORKER = None


def _init_worker(options: dict) -> None:
    global _WORKER
    import torch

    torch.set_num_threads(options.pop("threads"))
    from reasoner.pipeline import Reasoner
    from reasoner.student import StudentModel

    student = StudentModel.load(options["model"], options["base_model"])
    _WORKER = Reasoner(student, time_limit=options["time_limit"], use_solver=options.get("use_solver", True))


def _answer_in_worker(batch: list[Example]) -> list[QuestionResult]:
    assert _WORKER is not None
    return answer_examples(_WORKER, batch)


def peak_memory_mb() -> float:
    """Return the peak resident memory of this process and of its largest finished child, in MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def evaluate(
    examples: list[Example],
    options: dict,
    workers: int = 1,
    progress: Callable[[QuestionResult], None] | None = None,
    batch_size: int = 1,
) -> EvalReport:
    """Answer every example and build the report.

    ``options`` holds ``model``, ``base_model`` and ``time_limit``; each worker
    process loads its own student and solver. Each worker answers ``batch_size``
    consecutive examples at a time (:func:`answer_examples`).
    """
    started = time.perf_counter()
    results: list[QuestionResult] = []
    batches = [examples[i:i + batch_size] for i in range(0, len(examples), batch_size)]

    def collect(batch_results: list[QuestionResult]) -> None:
        for result in batch_results:
            results.append(result)
            if progress:
                progress(result)

    if workers <= 1:
        _init_worker(dict(options, threads=options.get("threads", 2)))
        try:
            for batch in batches:
                collect(_answer_in_worker(batch))
        finally:
            _WORKER.close()
    else:
        threads = max(1, (os.cpu_count() or 2) // workers)
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(
            workers, mp_context=context, initializer=_init_worker, initargs=(dict(options, threads=threads),)
        ) as pool:
            for batch_results in pool.map(_answer_in_worker, batches, chunksize=max(1, 4 // batch_size)):
                collect(batch_results)
    wall = time.perf_counter() - started
    return build_report(results, "test", workers, wall, batch_size)


def build_report(results: list[QuestionResult], split: str, workers: int, wall: float,
                 batch_size: int = 1) -> EvalReport:
    by_subtask: dict[str, list[QuestionResult]] = {}
    for result in results:
        by_subtask.setdefault(result.subtask, []).append(result)
    reports = []
    for subtask in sorted(by_subtask):
        group = by_subtask[subtask]
        solver = [r for r in group if r.route == "solver"]
        fallback = [r for r in group if r.route != "solver"]
        failures: dict[str, int] = {}
        for r in group:
            for outcome in r.rejected:
                failures[outcome] = failures.get(outcome, 0) + 1
        reports.append(SubtaskReport(
            subtask, len(group),
            accuracy=sum(r.correct for r in group) / len(group),
            solver_share=len(solver) / len(group),
            solver_accuracy=(sum(r.correct for r in solver) / len(solver)) if solver else None,
            fallback_accuracy=(sum(r.correct for r in fallback) / len(fallback)) if fallback else None,
            executable_rate=sum(r.executable for r in group) / len(group),
            failure_classes=failures,
        ))
    latencies = [r.seconds * 1000 for r in results]
    return EvalReport(
        split=split,
        subtasks=reports,
        mean_accuracy=statistics.mean(r.accuracy for r in reports) if reports else 0.0,
        solver_share=(sum(r.route == "solver" for r in results) / len(results)) if results else 0.0,
        latency_p50_ms=_percentile(latencies, 0.5),
        latency_p95_ms=_percentile(latencies, 0.95),
        throughput_qps=len(results) / wall if wall > 0 else 0.0,
        peak_memory_mb=peak_memory_mb(),
        workers=workers,
        wall_seconds=wall,
        batch_size=batch_size,
        results=results,
    )


def markdown_table(report: EvalReport, anchors: dict[str, float] | None = None) -> str:
    anchors = anchors or {}
    header = "| subtask | questions | accuracy % | solver route % | solver accuracy % | fallback accuracy % | executable % |"
    if anchors:
        header += " code-davinci-002 CoT % |"
    lines = [header, "|" + " --- |" * (header.count("|") - 1)]

    def pct(value: float | None) -> str:
        return "–" if value is None else f"{100 * value:.1f}"

    for r in report.subtasks:
        row = (f"| {r.subtask} | {r.questions} | {pct(r.accuracy)} | {pct(r.solver_share)} | "
               f"{pct(r.solver_accuracy)} | {pct(r.fallback_accuracy)} | {pct(r.executable_rate)} |")
        if anchors:
            anchor = anchors.get(r.subtask)
            row += f" {anchor:.1f} |" if anchor is not None else " – |"
        lines.append(row)
    total = sum(r.questions for r in report.subtasks)
    lines.append(f"| **mean of subtasks** | {total} | **{pct(report.mean_accuracy)}** | {pct(report.solver_share)} | | | |"
                 + (" |" if anchors else ""))
    return "\n".join(lines) + "\n"


def write_chart(report: EvalReport, path: Path, anchors: dict[str, float]) -> None:
    """Write a PNG bar chart of accuracy per subtask beside the anchor figures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r.subtask for r in report.subtasks]
    ours = [100 * r.accuracy for r in report.subtasks]
    theirs = [anchors.get(name, 0.0) for name in names]
    figure, axis = plt.subplots(figsize=(max(6, 0.5 * len(names) + 2), 5))
    positions = range(len(names))
    axis.bar([p - 0.2 for p in positions], ours, width=0.4, label="reason")
    axis.bar([p + 0.2 for p in positions], theirs, width=0.4, label="code-davinci-002 3-shot CoT")
    axis.set_xticks(list(positions))
    axis.set_xticklabels(names, rotation=60, ha="right", fontsize=8)
    axis.set_ylabel("accuracy (%)")
    axis.set_ylim(0, 100)
    axis.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)


def save_json(report: EvalReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(report.to_json(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    temporary.replace(path)


def mean_accuracy(student, examples: list[Example], time_limit: float = 10.0) -> float:
    """Return the mean over subtasks of the accuracy of ``student`` on ``examples``, in this process."""
    return evaluate_in_process(student, examples, time_limit).mean_accuracy


def evaluate_in_process(student, examples: list[Example], time_limit: float = 10.0,
                        batch_size: int = 16) -> EvalReport:
    """Run ``student`` on ``examples`` in this process and return the report, without latencies.

    Questions are answered ``batch_size`` at a time, which gives the same answers faster.
    """
    from reasoner.pipeline import Reasoner

    results = []
    with Reasoner(student, time_limit=time_limit) as reasoner:
        for start in range(0, len(examples), batch_size):
            batch = examples[start:start + batch_size]
            answers = reasoner.answer_many([example.input for example in batch])
            for example, answer in zip(batch, answers):
                results.append(QuestionResult(
                    example.subtask, example.index, example.target, answer.answer,
                    answer.answer is not None and normalize_answer(answer.answer) == normalize_answer(example.target),
                    answer.route, answer.pack, True, [], 0.0, False))
    return build_report(results, "test", 1, 0.0, batch_size)

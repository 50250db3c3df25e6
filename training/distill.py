"""Distillation from a live teacher: annotate training questions, keep what the solver verifies.

For each training question of a packed subtask without a verified record, the
teacher gets the pack's prompt (``training/prompts/annotate/<pack>.md``) and
the question; its facts are kept only when clingo reproduces the gold answer
(:func:`training.annotate.record_annotations`). Responses are cached as they
arrive, so a run that is killed resumes without repeating a call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from reasoner.bbh import BBH
from reasoner.packs import load_packs
from reasoner.solver import Solver
from training.annotate import RECORD_DIR, prompt_path, record_annotations, record_path
from training.records import read_jsonl
from training.teacher import Teacher, TeacherError


@dataclass
class DistillReport:
    calls: int = 0
    cache_hits: int = 0
    asked: int = 0
    verified: int = 0
    skipped_for_budget: int = 0
    per_subtask: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def verified_yield(self) -> float:
        return self.verified / self.asked if self.asked else 0.0


def distill(bbh: BBH, subtasks: list[str], teacher: Teacher, solver: Solver, budget: int | None,
            echo=print, record_dir: Path = RECORD_DIR) -> DistillReport:
    """Annotate the missing training questions of ``subtasks``; stop making calls at ``budget``."""
    packs = load_packs()
    report = DistillReport()
    for subtask in subtasks:
        pack = next((p for p in packs.values() if subtask in p.subtasks), None)
        if pack is None:
            echo(f"{subtask}: no pack serves it; skipped")
            continue
        prompt = prompt_path(pack.name).read_text(encoding="utf-8")
        done = {record["index"] for record in read_jsonl(record_path(subtask, record_dir))}
        responses = []
        counts = {"asked": 0, "verified": 0, "calls": 0, "cache_hits": 0}
        for example in bbh.split(subtask, "train"):
            if example.index in done:
                continue
            if budget is not None and report.calls >= budget and not teacher.is_cached(prompt, example.input):
                report.skipped_for_budget += 1
                continue
            calls_before = teacher.calls
            try:
                reply = teacher.ask(prompt, example.input)
            except TeacherError as error:
                echo(f"{example.id}: {error}")
                continue
            made_call = teacher.calls > calls_before
            report.calls += made_call
            counts["calls"] += made_call
            counts["cache_hits"] += not made_call
            report.cache_hits += not made_call
            responses.append({"index": example.index, "facts": reply.text, "teacher": reply.model})
            counts["asked"] += 1
        by_teacher: dict[str, list] = {}
        for response in responses:
            by_teacher.setdefault(response["teacher"], []).append(response)
        rejected = 0
        for name, items in by_teacher.items():
            rejected += len(record_annotations(bbh, subtask, items, name, solver, record_dir))
        counts["verified"] = counts["asked"] - rejected
        report.asked += counts["asked"]
        report.verified += counts["verified"]
        report.per_subtask[subtask] = counts
        echo(f"{subtask}: asked {counts['asked']}, verified {counts['verified']}, "
             f"calls {counts['calls']}, cache hits {counts['cache_hits']}")
    return report

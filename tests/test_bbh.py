"""The fixed BBH split: the rule in code reproduces split.json."""

from __future__ import annotations

import json

import pytest

from reasoner.bbh import BBH, SUBTASKS, compute_split


@pytest.mark.parametrize("subtask", SUBTASKS)
def test_split_rule_reproduces_split_file(bbh_dir, subtask):
    bbh = BBH(bbh_dir)
    saved = json.loads((bbh_dir / "split.json").read_text(encoding="utf-8"))
    computed = compute_split([e.input for e in bbh.examples(subtask)])
    assert computed["train"] == sorted(saved["train"][subtask])
    assert computed["test"] == sorted(saved["test"][subtask])


def test_records_hold_no_benchmark_text(bbh_dir):
    """Question text from the benchmark never enters the repository's records."""
    from reasoner.paths import TRAINING_DIR

    text = "\n".join(path.read_text(encoding="utf-8") for path in (TRAINING_DIR / "records").rglob("*.jsonl"))
    bbh = BBH(bbh_dir)
    for subtask in SUBTASKS:
        for example in bbh.examples(subtask):
            # The whole question, escaped as JSON writes it. Templated questions share
            # long stretches, so a shorter probe would also match teacher-written ones.
            probe = json.dumps(example.input, ensure_ascii=False)[1:-1]
            assert probe not in text, f"{example.id} appears in the records"


def test_annotation_records_name_questions_by_hash():
    from reasoner.paths import TRAINING_DIR

    for path in (TRAINING_DIR / "records").glob("*.jsonl"):
        if path.name in ("teacher_cache.jsonl", "rejected_rules.jsonl"):
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            assert set(record) == {"subtask", "index", "input_sha256", "facts", "teacher", "prompt",
                                   "prompt_sha256", "date"}

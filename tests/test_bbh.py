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


def test_records_hold_no_question_text():
    from reasoner.paths import TRAINING_DIR

    for path in (TRAINING_DIR / "records").glob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            assert set(record) == {"subtask", "index", "input_sha256", "facts", "teacher", "prompt",
                                   "prompt_sha256", "date"}

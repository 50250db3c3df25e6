"""Rules learned from mistakes: a pack missing one piece of knowledge gets it back from the teacher.

The packs under tests/data/rulelearn are boolean_expressions without the fact
that the word "not" is negation, and object_counting without its vegetables.
The teacher's replies to exactly these requests are recorded in
training/records/teacher_cache.jsonl and replay without a network.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from reasoner.packs import load_pack
from reasoner.rulebase import check_pack, run_cases
from teacher_server import ReplayTeacher
from training.records import read_jsonl
from training.rulelearn import TrainingCase, decide, learn_rules, learn_rules_rounds, pack_accuracy
from training.teacher import ResponseCache, Teacher, TeacherConfig, TeacherError, sha256_text

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "rulelearn"
RECORDED = ROOT / "training" / "records" / "teacher_cache.jsonl"


@pytest.fixture
def stripped_pack(tmp_path):
    shutil.copytree(DATA / "boolean_expressions", tmp_path / "boolean_expressions")
    return load_pack(tmp_path / "boolean_expressions")


@pytest.fixture(scope="module")
def cases() -> list[TrainingCase]:
    rows = [json.loads(line) for line in (DATA / "cases.jsonl").read_text(encoding="utf-8").splitlines()]
    return [TrainingCase(r["id"], r["question"], r["facts"], r["answer"]) for r in rows]


def recorded_teacher(tmp_path) -> Teacher:
    cache = tmp_path / "cache.jsonl"
    shutil.copyfile(RECORDED, cache)
    return Teacher(TeacherConfig(model="claude-subagent"), ResponseCache(cache))


def check_restored(directory: Path, cases: list[TrainingCase], solver) -> str:
    """Check that the pack in ``directory`` answers every case and passes its checks; return its learned file."""
    restored = load_pack(directory)
    assert pack_accuracy(restored, cases, solver)[0] == 1.0
    assert all(result.passed for result in run_cases(restored, solver))
    assert check_pack(restored) == []
    return (directory / "learned.lp").read_text(encoding="utf-8")


def test_missing_knowledge_lowers_accuracy(stripped_pack, cases, solver):
    accuracy, failures = pack_accuracy(stripped_pack, cases, solver)
    assert accuracy < 0.5
    assert failures


def test_recorded_proposal_restores_accuracy(tmp_path, stripped_pack, cases, solver):
    teacher = recorded_teacher(tmp_path)
    _, failures = pack_accuracy(stripped_pack, cases, solver)
    decision = learn_rules(stripped_pack, cases, teacher, solver, record_dir=tmp_path, echo=lambda _: None)
    assert decision.admitted, decision.reason
    assert decision.accuracy_after == 1.0
    assert teacher.calls == 0

    learned = check_restored(stripped_pack.directory, cases, solver)
    assert learned.startswith("% Purpose:")
    assert "% Proposed by claude-subagent on " in learned
    assert "prompt sha256 " in learned
    assert failures[0].id in learned
    assert 'symbol("not", neg).' in learned


def test_proposal_through_http_teacher(tmp_path, stripped_pack, cases, solver):
    recorded = read_jsonl(RECORDED)[0]
    with ReplayTeacher({recorded["question_sha256"]: recorded["response"]}) as server:
        config = TeacherConfig(base_url=server.url, model="claude-subagent", backoff=0.01)
        teacher = Teacher(config, ResponseCache(tmp_path / "cache.jsonl"))
        decision = learn_rules(stripped_pack, cases, teacher, solver, record_dir=tmp_path, echo=lambda _: None)
    assert decision.admitted
    assert server.answered == 1


@pytest.mark.parametrize(
    "proposal, reason",
    [
        ('#script (python)\nimport os\n#end.\nsymbol("not", neg).', "Script is not allowed"),
        ('#include "other.lp".\nsymbol("not", neg).', "#include"),
        ('#show symbol/2.\nsymbol("not", neg).', "ShowSignature is not allowed"),
        ('symbol("not", neg', "does not parse"),
        ('answer("True").', "regression cases fail"),
        ('symbol("True", false).', "regression cases fail"),
    ],
)
def test_unsafe_or_useless_proposals_rejected(stripped_pack, cases, solver, proposal, reason):
    decision = decide(stripped_pack, proposal, cases, solver)
    assert not decision.admitted
    assert reason in decision.reason


def test_rejection_is_logged(tmp_path, stripped_pack, cases, solver):
    cache = tmp_path / "cache.jsonl"
    teacher = Teacher(TeacherConfig(model="claude-subagent"), ResponseCache(cache))
    _, failures = pack_accuracy(stripped_pack, cases, solver)
    from training.rulelearn import build_prompt

    prompt, message = build_prompt(stripped_pack, failures)
    with ReplayTeacher({sha256_text(message): 'answer("True").'}) as server:
        teacher.config.base_url = server.url
        decision = learn_rules(stripped_pack, cases, teacher, solver, record_dir=tmp_path, echo=lambda _: None)
    assert not decision.admitted
    logged = read_jsonl(tmp_path / "rejected_rules.jsonl")
    assert logged[0]["reason"].startswith("regression cases fail")
    assert logged[0]["pack"] == "boolean_expressions"
    assert not (stripped_pack.directory / "learned.lp").exists()


def test_proposal_without_gain_rejected(tmp_path, cases, solver):
    shutil.copytree(ROOT / "rules" / "boolean_expressions", tmp_path / "boolean_expressions")
    complete = load_pack(tmp_path / "boolean_expressions")
    decision = decide(complete, 'symbol("maybe", true).', cases, solver)
    assert not decision.admitted
    assert "training accuracy stays at 1.000" in decision.reason


def counting_pack_and_cases(tmp_path) -> tuple:
    """Return a copy of object_counting without its vegetables, and its teacher-written questions."""
    shutil.copytree(DATA / "object_counting", tmp_path / "object_counting")
    rows = read_jsonl(DATA / "object_counting_cases.jsonl")
    cases = [TrainingCase(r["id"], r["question"], r["facts"], r["answer"]) for r in rows]
    return load_pack(tmp_path / "object_counting"), cases


def test_recorded_categories_restore_object_counting(tmp_path, solver):
    pack, cases = counting_pack_and_cases(tmp_path)
    before, failures = pack_accuracy(pack, cases, solver)
    assert before < 0.8
    assert failures

    teacher = recorded_teacher(tmp_path)
    decisions = learn_rules_rounds(pack, cases, teacher, solver, 3, record_dir=tmp_path, echo=lambda _: None)
    assert [d.admitted for d in decisions] == [True, True]
    assert decisions[0].accuracy_after < 1.0
    assert teacher.calls == 0

    learned = check_restored(pack.directory, cases, solver)
    assert "vegetable)." in learned
    assert failures[0].id in learned
    assert learned.count("% Proposed by claude-subagent on 2026-12-05") == 2


def test_teacher_failure_keeps_earlier_rounds(tmp_path, solver):
    from training.rulelearn import build_prompt

    pack, cases = counting_pack_and_cases(tmp_path)
    _, failures = pack_accuracy(pack, cases, solver)
    first_request = sha256_text(build_prompt(pack, failures)[1])
    cache = ResponseCache(tmp_path / "cache.jsonl")
    for entry in read_jsonl(RECORDED):
        if entry["question_sha256"] == first_request:
            cache.put(entry)
    # Round 1 replays from the cache; round 2 reaches a closed port.
    teacher = Teacher(TeacherConfig(base_url="http://127.0.0.1:9/v1", model="claude-subagent", max_retries=0),
                      cache)
    lines: list[str] = []
    with pytest.raises(TeacherError):
        learn_rules_rounds(pack, cases, teacher, solver, 3, record_dir=tmp_path, echo=lines.append)

    learned = (pack.directory / "learned.lp").read_text(encoding="utf-8")
    assert learned.count("% Proposed by claude-subagent") == 1
    assert lines[0].startswith("round 1: object_counting: admitted into ")
    assert lines[-1].startswith("round 2: the teacher failed; ")
    assert lines[-1].endswith("learned.lp keeps the 1 proposal admitted in earlier rounds")


def test_rules_learn_command_replays_both_rounds(tmp_path):
    import os
    import subprocess
    import sys

    shutil.copytree(DATA / "object_counting", tmp_path / "rules" / "object_counting")
    shutil.copyfile(RECORDED, tmp_path / "cache.jsonl")
    environment = {**os.environ, "REASON_TEACHER_MODEL": "claude-subagent", "REASON_TEACHER_URL": ""}
    result = subprocess.run(
        [sys.executable, "-m", "reasoner.cli", "rules", "learn", "object_counting", "--rules", str(tmp_path / "rules"),
         "--data", str(tmp_path / "no-bbh"), "--cache", str(tmp_path / "cache.jsonl")],
        capture_output=True, text=True, cwd=tmp_path, env=environment, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "round 2: object_counting: admitted into " in result.stdout
    assert "round 3: object_counting: every training question is answered" in result.stdout
    learned = (tmp_path / "rules" / "object_counting" / "learned.lp").read_text(encoding="utf-8")
    assert learned.count("% Proposed by claude-subagent") == 2


def test_rules_learn_rejects_folder_cache(tmp_path):
    import os
    import subprocess
    import sys

    shutil.copytree(DATA / "object_counting", tmp_path / "rules" / "object_counting")
    environment = {**os.environ, "REASON_TEACHER_MODEL": "claude-subagent", "REASON_TEACHER_URL": ""}
    result = subprocess.run(
        [sys.executable, "-m", "reasoner.cli", "rules", "learn", "object_counting", "--rules", str(tmp_path / "rules"),
         "--data", str(tmp_path / "no-bbh"), "--cache", str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, env=environment, timeout=300)
    assert result.returncode == 2, result.stderr
    assert f"cannot read the teacher cache {tmp_path}" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "rules" / "object_counting" / "learned.lp").exists()

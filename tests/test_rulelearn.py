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
from training.teacher import ResponseCache, Teacher, TeacherConfig, sha256_text

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

    restored = load_pack(stripped_pack.directory)
    assert pack_accuracy(restored, cases, solver)[0] == 1.0
    assert all(result.passed for result in run_cases(restored, solver))
    assert check_pack(restored) == []
    learned = (stripped_pack.directory / "learned.lp").read_text(encoding="utf-8")
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


def test_recorded_categories_restore_object_counting(tmp_path, solver):
    shutil.copytree(DATA / "object_counting", tmp_path / "object_counting")
    pack = load_pack(tmp_path / "object_counting")
    rows = read_jsonl(DATA / "object_counting_cases.jsonl")
    cases = [TrainingCase(r["id"], r["question"], r["facts"], r["answer"]) for r in rows]
    before, failures = pack_accuracy(pack, cases, solver)
    assert before < 0.8
    assert failures

    teacher = recorded_teacher(tmp_path)
    decisions = learn_rules_rounds(pack, cases, teacher, solver, 3, record_dir=tmp_path, echo=lambda _: None)
    assert [d.admitted for d in decisions] == [True, True]
    assert decisions[0].accuracy_after < 1.0
    assert teacher.calls == 0

    restored = load_pack(pack.directory)
    assert pack_accuracy(restored, cases, solver)[0] == 1.0
    assert all(result.passed for result in run_cases(restored, solver))
    assert check_pack(restored) == []
    learned = (pack.directory / "learned.lp").read_text(encoding="utf-8")
    assert "vegetable)." in learned
    assert failures[0].id in learned
    assert learned.count("% Proposed by claude-subagent on 2026-12-05") == 2

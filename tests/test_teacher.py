"""The teacher client and distillation, against a replaying teacher on 127.0.0.1."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from reasoner.bbh import BBH
from teacher_server import ReplayTeacher
from training.distill import distill
from training.records import read_jsonl
from training.teacher import ResponseCache, Teacher, TeacherConfig, TeacherError, entry_date, sha256_text

ROOT = Path(__file__).resolve().parent.parent


def synthetic_records(pack: str, count: int) -> list[dict]:
    path = ROOT / "training" / "records" / "synthetic" / f"{pack}.jsonl"
    return read_jsonl(path)[:count]


@pytest.fixture
def mini_bbh(tmp_path) -> tuple[BBH, dict[str, str]]:
    """A BBH-shaped folder of teacher-written web_of_lies questions, all in the train split."""
    records = synthetic_records("web_of_lies", 6)
    root = tmp_path / "bbh"
    (root / "bbh").mkdir(parents=True)
    examples = [{"input": r["question"], "target": r["answer"]} for r in records]
    (root / "bbh" / "web_of_lies.json").write_text(json.dumps({"examples": examples}), encoding="utf-8")
    split = {"train": {"web_of_lies": list(range(len(examples)))}, "test": {"web_of_lies": []}}
    (root / "split.json").write_text(json.dumps(split), encoding="utf-8")
    responses = {sha256_text(r["question"]): r["facts"] for r in records}
    return BBH(root), responses


def make_teacher(url: str, cache: Path, **settings) -> Teacher:
    config = TeacherConfig(base_url=url, model="replay", backoff=0.01, timeout=10, **settings)
    return Teacher(config, ResponseCache(cache))


def test_distill_keeps_verified_and_replays_from_cache(tmp_path, mini_bbh, solver):
    bbh, responses = mini_bbh
    with ReplayTeacher(responses) as server:
        teacher = make_teacher(server.url, tmp_path / "cache.jsonl")
        report = distill(bbh, ["web_of_lies"], teacher, solver, None, echo=lambda _: None, record_dir=tmp_path / "records")
        assert report.calls == 6
        assert report.verified == 6
        assert server.requests == 6
        records = read_jsonl(tmp_path / "records" / "web_of_lies.jsonl")
        assert {r["teacher"] for r in records} == {"replay"}
        assert all(set(r) >= {"index", "input_sha256", "prompt_sha256", "facts"} for r in records)

        # The same prompts again, with the records gone: every reply comes from the cache.
        (tmp_path / "records" / "web_of_lies.jsonl").unlink()
        again = make_teacher(server.url, tmp_path / "cache.jsonl")
        report = distill(bbh, ["web_of_lies"], again, solver, None, echo=lambda _: None, record_dir=tmp_path / "records")
        assert report.calls == 0
        assert report.cache_hits == 6
        assert server.requests == 6


def test_unverified_annotation_not_recorded(tmp_path, mini_bbh, solver):
    bbh, responses = mini_bbh
    wrong = dict(responses)
    first = sha256_text(bbh.example("web_of_lies", 0).input)
    wrong[first] = 'ask("nobody").'
    with ReplayTeacher(wrong) as server:
        teacher = make_teacher(server.url, tmp_path / "cache.jsonl")
        report = distill(bbh, ["web_of_lies"], teacher, solver, None, echo=lambda _: None, record_dir=tmp_path / "records")
    assert report.verified == 5
    indices = {r["index"] for r in read_jsonl(tmp_path / "records" / "web_of_lies.jsonl")}
    assert 0 not in indices


@pytest.mark.parametrize("status", [429, 503])
def test_retries_after_transient_errors(tmp_path, mini_bbh, status):
    bbh, responses = mini_bbh
    question = bbh.example("web_of_lies", 0).input
    with ReplayTeacher(responses, fail_first=2, fail_status=status) as server:
        teacher = make_teacher(server.url, tmp_path / "cache.jsonl")
        reply = teacher.ask("prompt", question)
    assert reply.text == responses[sha256_text(question)]
    assert server.requests == 3


def test_client_error_is_not_retried(tmp_path, mini_bbh):
    _, responses = mini_bbh
    with ReplayTeacher(responses) as server:
        teacher = make_teacher(server.url, tmp_path / "cache.jsonl")
        with pytest.raises(TeacherError, match="HTTP 400"):
            teacher.ask("prompt", "a question nobody recorded")
        assert server.requests == 1


def test_unreachable_teacher_fails_after_retries(tmp_path):
    teacher = make_teacher("http://127.0.0.1:9/v1", tmp_path / "cache.jsonl", max_retries=2)
    with pytest.raises(TeacherError, match="after 3 attempts"):
        teacher.ask("prompt", "question")


def test_budget_caps_teacher_calls(tmp_path, mini_bbh, solver):
    bbh, responses = mini_bbh
    with ReplayTeacher(responses) as server:
        teacher = make_teacher(server.url, tmp_path / "cache.jsonl")
        report = distill(bbh, ["web_of_lies"], teacher, solver, 2, echo=lambda _: None, record_dir=tmp_path / "records")
    assert report.calls == 2
    assert report.skipped_for_budget == 4
    assert server.requests == 2


class Killed(Exception):
    pass


def test_killed_run_resumes_without_repeating_calls(tmp_path, mini_bbh, solver):
    bbh, responses = mini_bbh
    with ReplayTeacher(responses) as server:
        teacher = make_teacher(server.url, tmp_path / "cache.jsonl")
        original = teacher._request

        def dies_on_third_call(*args):
            if server.requests == 3:
                raise Killed
            return original(*args)

        teacher._request = dies_on_third_call
        with pytest.raises(Killed):
            distill(bbh, ["web_of_lies"], teacher, solver, None, echo=lambda _: None, record_dir=tmp_path / "records")
        assert server.requests == 3

        resumed = make_teacher(server.url, tmp_path / "cache.jsonl")
        report = distill(bbh, ["web_of_lies"], resumed, solver, None, echo=lambda _: None, record_dir=tmp_path / "records")
    assert report.cache_hits == 3
    assert report.calls == 3
    assert server.requests == 6
    assert report.verified == 6


def test_torn_last_cache_line_is_skipped(tmp_path, caplog):
    cache_path = tmp_path / "cache.jsonl"
    cache = ResponseCache(cache_path)
    cache.put({"key": "k1", "response": "a(1)."})
    with cache_path.open("a", encoding="utf-8") as stream:
        stream.write('{"key": "k2", "respo')
    with caplog.at_level(logging.WARNING, logger="reasoner"):
        reloaded = ResponseCache(cache_path)
    assert reloaded.get("k1")["response"] == "a(1)."
    assert reloaded.get("k2") is None
    assert "torn write" in caplog.text


def test_cache_skips_stray_byte_lines(tmp_path, caplog):
    """A torn multi-byte character or a line that is JSON but not an object costs that line only."""
    cache_path = tmp_path / "cache.jsonl"
    cache_path.write_bytes(b'42\n\xff\xfe{"key": "k0"}\n' + '{"key": "k1", "response": "é(1)."}\n'.encode()
                           + '{"key": "k2", "response": "é'.encode()[:-1])
    with caplog.at_level(logging.WARNING, logger="reasoner"):
        reloaded = ResponseCache(cache_path)
    assert list(reloaded.entries) == ["k1"]
    assert "cache.jsonl:1: skipped a line that is not a JSON object" in caplog.text
    assert "cache.jsonl:2: skipped a line that is not valid JSON" in caplog.text
    assert "cache.jsonl:4: skipped a line that is not valid JSON" in caplog.text


def test_recorded_annotations_answer_without_network(tmp_path):
    prompt, question = "the pack prompt", "Ann lies. Does Ann tell the truth?"
    record = {"teacher": "recorded-model", "prompt_sha256": sha256_text(prompt),
              "input_sha256": sha256_text(question), "facts": 'given("Ann",lie).\nask("Ann").\n'}
    teacher = Teacher(TeacherConfig(base_url=""), ResponseCache(tmp_path / "cache.jsonl"))
    assert teacher.seed_from_records([record]) == 1
    reply = teacher.ask(prompt, question, model="recorded-model")
    assert reply.cached
    assert reply.text == record["facts"]
    with pytest.raises(TeacherError, match="no teacher endpoint"):
        teacher.ask(prompt, "another question", model="recorded-model")


@pytest.mark.parametrize(
    "entry, expected",
    [
        ({"date": "2026-12-05"}, "2026-12-05"),
        ({"time": 1764892800.0}, "2025-12-05"),
        ({"date": "2026-12-05", "time": 0}, "2026-12-05"),
        ({"date": "2026-02-30"}, None),
        ({"date": '2026-12-05\ncategory("theremin", instrument).'}, None),
        ({"date": 20261205}, None),
        ({"date": None, "time": None}, None),
        ({"time": "yesterday"}, None),
        ({"time": float("nan")}, None),
        ({"time": 1e20}, None),
        ({"time": True}, None),
        ({}, None),
    ],
)
def test_entry_date_accepts_only_valid_dates(entry, expected):
    assert entry_date(entry) == expected

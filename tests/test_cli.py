"""The command line: answers, JSON, exit codes and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import unseen_questions
from reasoner.cli import EXIT_INVALID_INPUT, EXIT_VERIFIED
ROOT = Path(__file__).resolve().parent.parent

REASON = [sys.executable, "-m", "reasoner.cli"]


def run(args, stdin: bytes | None = None, cwd: Path = ROOT, env: dict[str, str] | None = None):
    return subprocess.run(REASON + list(args), input=stdin, capture_output=True, cwd=cwd, timeout=300, env=env)


def teacher_env(**values: str) -> dict[str, str]:
    """Return this environment without teacher settings, plus ``values``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("REASON_TEACHER_")}
    return env | values


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "is empty"),
        (b"   \n\n ", "is empty"),
        (b"\x00\x01\x02binary", "binary"),
        (b"\xc3\x28 not utf-8", "not valid UTF-8"),
        (b"a" * (10 * 1024 * 1024), "the limit is"),
    ],
)
def test_bad_input_gets_one_line_error(tmp_path, content, message):
    path = tmp_path / "question.txt"
    path.write_bytes(content)
    result = run(["solve", str(path)])
    assert result.returncode == EXIT_INVALID_INPUT
    error = result.stderr.decode()
    assert message in error
    assert error.count("\n") == 1
    assert "Traceback" not in error
    assert result.stdout == b""


def test_missing_file_is_usage_error(tmp_path):
    result = run(["solve", str(tmp_path / "absent.txt")])
    assert result.returncode == 2
    assert b"not found" in result.stderr
    assert b"Traceback" not in result.stderr


def test_directory_is_invalid_input(tmp_path):
    result = run(["solve", str(tmp_path)])
    assert result.returncode == EXIT_INVALID_INPUT
    assert b"is a directory" in result.stderr


def test_pack_without_translator_is_usage_error(tmp_path):
    """A pack added after the student was trained is named in a one-line usage error."""
    import shutil

    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    (rules / "demo" / "cases").mkdir(parents=True)
    (rules / "demo" / "pack.toml").write_text(
        'name = "demo"\npurpose = "Demo."\nengine = "clingo"\nanswer = "answer/1"\n[inputs]\nq = ["name"]\n',
        encoding="utf-8")
    (rules / "demo" / "demo.lp").write_text("#defined q/1.\nanswer(X) :- q(X).\n#show answer/1.\n", encoding="utf-8")
    result = run(["solve", "--rules", str(rules), "--pack", "demo", "examples/liars_chain.txt"])
    assert result.returncode == 2
    assert b"not trained for the pack 'demo'" in result.stderr
    assert b"Traceback" not in result.stderr


@pytest.mark.parametrize("config", ['{"x":', "", '{"x": 1}'])
def test_broken_student_config_unavailable(tmp_path, config):
    """A student whose config.json is not valid gets exit 69 and one line naming the file."""
    import shutil

    from reasoner.cli import EXIT_UNAVAILABLE
    from reasoner.paths import MODEL_DIR

    model = tmp_path / "student"
    shutil.copytree(MODEL_DIR, model)
    (model / "config.json").write_text(config, encoding="utf-8")
    result = run(["solve", "--model", str(model), "examples/liars_chain.txt"])
    assert result.returncode == EXIT_UNAVAILABLE
    assert b"config.json is not a student configuration" in result.stderr
    assert result.stderr.count(b"\n") == 1


def test_emit_program_into_file_is_usage_error(tmp_path):
    """--emit-program naming an existing file is rejected before the question is answered."""
    target = tmp_path / "afile"
    target.write_text("keep me", encoding="utf-8")
    result = run(["solve", "--emit-program", str(target), "examples/liars_chain.txt"])
    assert result.returncode == 2
    assert b"is a file" in result.stderr
    assert result.stdout == b""
    assert target.read_text(encoding="utf-8") == "keep me"


def test_unknown_option_is_usage_error():
    assert run(["solve", "--no-such-option", "x"]).returncode == 2


def test_example_answered_through_solver():
    answers = json.loads((ROOT / "examples" / "answers.json").read_text(encoding="utf-8"))
    result = run(["solve", "examples/liars_chain.txt"])
    assert result.returncode == EXIT_VERIFIED, result.stderr.decode()
    lines = result.stdout.decode().splitlines()
    assert lines[0] == answers["liars_chain.txt"]["answer"]
    assert lines[1].startswith("verified:")


def test_json_from_standard_input_with_bom_and_crlf():
    text = (ROOT / "examples" / "bakery_window.txt").read_text(encoding="utf-8")
    data = b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode()
    result = run(["solve", "-", "--format", "json"], stdin=data)
    assert result.returncode == EXIT_VERIFIED, result.stderr.decode()
    report = json.loads(result.stdout)
    assert report["Answer"] == "(A)"
    assert report["Route"] == "solver"
    assert report["Verified"] is True
    assert report["Pack"] == "logical_deduction"
    assert report["Result"] == "SATISFIABLE"
    assert report["Models"]["Number"] == 1
    assert report["Candidates"][-1]["Outcome"] == "answer"
    assert set(report["Rules"]) == {"logical_deduction/order.lp"}
    assert set(report["Time"]) >= {"Total", "Solve"}


# NOTE: the shipped student drops this scene's first start fact ("Amélie has the ace"), so the
# facts contradict the rules and the question falls back. The mark is strict, so a fix shows.
@pytest.mark.xfail(strict=True, reason="the shipped student drops the first start fact of this scene")
def test_card_game_example_verified():
    answers = json.loads((ROOT / "examples" / "answers.json").read_text(encoding="utf-8"))
    result = run(["solve", "examples/card_game.txt"])
    assert result.returncode == EXIT_VERIFIED, result.stderr.decode()
    assert result.stdout.decode().splitlines()[0] == answers["card_game.txt"]["answer"]


def test_rules_test_passes():
    result = run(["rules", "test"])
    assert result.returncode == 0, result.stdout.decode()
    assert b"0 failed" in result.stdout


def test_translate_limit_falls_back():
    """Past the translation time limit the fallback gives the answer, and the output says why."""
    from reasoner.cli import EXIT_UNVERIFIED

    result = run(["solve", "examples/liars_chain.txt", "--translate-limit", "0", "--format", "json"])
    assert result.returncode == EXIT_UNVERIFIED, result.stderr.decode()
    report = json.loads(result.stdout)
    assert report["Route"] == "fallback"
    assert report["TranslationTimedOut"] is True
    assert report["Candidates"] == []
    assert b"translation stopped at the 0 s limit" in result.stderr
    assert b"Traceback" not in result.stderr


SARCASM = ("Which statement is sarcastic?\nOptions:\n(A) Oh great, another Monday, just what I needed.\n"
           "(B) Mondays are the first working day of the week.\n")


def test_several_files_answered_in_order(tmp_path):
    """Each answer gets its file's header, in the order given; one unverified answer makes the exit code 3."""
    from reasoner.cli import EXIT_UNVERIFIED

    answers = json.loads((ROOT / "examples" / "answers.json").read_text(encoding="utf-8"))
    sarcasm = tmp_path / "sarcasm.txt"
    sarcasm.write_text(SARCASM, encoding="utf-8")
    files = ["examples/liars_chain.txt", str(sarcasm), "examples/card_game.txt"]
    result = run(["solve", *files, "--batch-size", "2"])
    assert result.returncode == EXIT_UNVERIFIED, result.stderr.decode()
    blocks = result.stdout.decode().split("\n\n")
    assert [block.splitlines()[0] for block in blocks] == [f"==> {name} <==" for name in files]
    assert blocks[0].splitlines()[1] == answers["liars_chain.txt"]["answer"]
    assert blocks[0].splitlines()[2].startswith("verified:")
    assert blocks[1].splitlines()[2].startswith("unverified:")
    assert blocks[2].splitlines()[1] == answers["card_game.txt"]["answer"]


def test_several_files_as_json_array():
    files = ["examples/liars_chain.txt", "examples/bakery_window.txt"]
    result = run(["solve", *files, "--format", "json"])
    assert result.returncode == EXIT_VERIFIED, result.stderr.decode()
    reports = json.loads(result.stdout)
    assert [report["Input"] for report in reports] == [[name] for name in files]
    assert [report["Answer"] for report in reports] == ["Yes", "(A)"]


@pytest.mark.parametrize("args, message", [
    (["-", "-"], b"standard input ('-') can be read only once"),
    (["examples/boolean.txt", "examples/card_game.txt", "--emit-program", "out"], b"pass one FILE with it"),
])
def test_several_files_usage_errors(args, message):
    result = run(["solve", *args])
    assert result.returncode == 2
    assert message in result.stderr
    assert b"Traceback" not in result.stderr


def test_bad_file_stops_several_files(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    result = run(["solve", "examples/boolean.txt", str(empty)])
    assert result.returncode == EXIT_INVALID_INPUT
    assert result.stdout == b""
    assert result.stderr.decode().strip() == f"reason: error: {empty} is empty; write the question into it"


def write_small_bbh(root: Path) -> dict[str, list[dict]]:
    """Write a BBH-shaped folder of project-written questions, all on the test side of the split."""
    by_subtask: dict[str, list[dict]] = {}
    for item in unseen_questions():
        if item["pack"] in ("web_of_lies", "navigate", "boolean_expressions"):
            by_subtask.setdefault(item["pack"], []).append({"input": item["question"], "target": item["answer"]})
    by_subtask["snarks"] = [{"input": SARCASM.strip(), "target": "(A)"}]
    (root / "bbh").mkdir()
    for subtask, examples in by_subtask.items():
        (root / "bbh" / f"{subtask}.json").write_text(json.dumps({"examples": examples}), encoding="utf-8")
    split = {"train": {s: [] for s in by_subtask}, "test": {s: list(range(len(e))) for s, e in by_subtask.items()}}
    (root / "split.json").write_text(json.dumps(split), encoding="utf-8")
    return by_subtask


@pytest.mark.parametrize("workers, batch_size", [(1, 3), (2, 2)])
def test_eval_answers_in_batches(tmp_path, workers, batch_size):
    """reason eval answers every question in batches, in one process or several, and records the batch size."""
    by_subtask = write_small_bbh(tmp_path)
    output = tmp_path / "out"
    result = run(["eval", "--data", str(tmp_path), "--subtasks", ",".join(by_subtask), "--workers", str(workers),
                  "--batch-size", str(batch_size), "--output", str(output)])
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    report = json.loads((output / "report.json").read_text(encoding="utf-8"))
    assert report["batch_size"] == batch_size
    assert report["workers"] == workers
    answered = {(r["subtask"], r["index"]): r for r in report["results"]}
    assert sorted(answered) == sorted((s, i) for s, e in by_subtask.items() for i in range(len(e)))
    for (subtask, index), answer in answered.items():
        if subtask == "snarks":
            assert answer["route"] == "fallback"  # no pack serves it
        else:
            assert answer["route"] == "solver"
            assert answer["correct"], answer
            assert answer["has_derivation"]
    assert f"batches of {batch_size}" in result.stdout.decode()


def test_distill_replays_recorded_annotations(tmp_path):
    """reason distill seeds its cache from the records and, with a budget of 0, makes no call."""
    write_small_bbh(tmp_path)
    result = run(["distill", "--subtasks", "boolean_expressions", "--data", str(tmp_path), "--budget", "0",
                  "--cache", str(tmp_path / "cache.jsonl")], env=teacher_env())
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.startswith(b"teacher calls 0, cache hits 0")


def test_ask_teacher_setup_fails_before_training(tmp_path):
    write_small_bbh(tmp_path)
    train = ["train", "--cotrain", "1", "--ask-teacher", "--data", str(tmp_path), "--output", str(tmp_path / "student")]
    result = run(train, env=teacher_env())
    assert result.returncode == 69
    assert b"no teacher endpoint configured" in result.stderr
    endpoint = teacher_env(REASON_TEACHER_URL="http://127.0.0.1:9/v1", REASON_TEACHER_MODEL="replay")
    result = run([*train, "--teacher-cache", str(tmp_path)], env=endpoint)
    assert result.returncode == 2
    assert f"cannot read the teacher cache {tmp_path}".encode() in result.stderr
    assert b"Traceback" not in result.stderr
    result = run(train[:3] + train[4:], env=teacher_env())  # no --ask-teacher; the small folder lacks subtasks
    assert result.returncode == 69
    assert b"co-training measures every packed subtask's test split" in result.stderr
    assert not (tmp_path / "student").exists()


def test_train_rejects_ignored_options(tmp_path):
    """An option that takes effect only with another is a usage error without it, before any work."""
    # A folder without BBH data and one step: if a check ever stopped refusing, the run would fail fast.
    output = ["--output", str(tmp_path / "student"), "--data", str(tmp_path / "no-bbh"), "--max-examples", "1"]
    for arguments, message in [
        (["--teacher-budget", "3"], b"--teacher-budget requires --ask-teacher"),
        (["--cotrain", "1", "--teacher-cache", str(tmp_path / "cache.jsonl")], b"--teacher-cache requires --ask-teacher"),
        (["--cotrain-judge", "any"], b"--cotrain-judge requires --cotrain ROUNDS of at least 1"),
        (["--cotrain", "0", "--ask-teacher"], b"--ask-teacher requires --cotrain ROUNDS of at least 1"),
        (["--cotrain", "1", "--part", "rationale"], b"--cotrain trains the translator"),
        (["--part", "rationale", "--steps", "1"], b"--steps requires --part both or translator"),
        (["--part", "translator", "--rationale-steps", "1"], b"--rationale-steps requires --part both or rationale"),
    ]:
        result = run(["train", *arguments, *output])
        assert result.returncode == 2, (arguments, result.stderr)
        assert message in result.stderr, (arguments, result.stderr)
        assert not (tmp_path / "student").exists()

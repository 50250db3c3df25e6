"""A tiny training run end to end: data, loss, checkpoint, resume, safetensors."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from reasoner.student import StudentModel
from training.train import TrainConfig, train

TINY = {"d_model": 32, "ff_dim": 64, "decoder_layers": 1, "heads": 2}


def tiny_config(tmp_path: Path, steps: int, **overrides) -> TrainConfig:
    # Teacher-written questions only, so the test runs without a BBH clone.
    return TrainConfig(
        output=tmp_path / "student", data=None, steps=steps, batch_size=4, router_batch_size=8,
        augment_copies=1, max_examples=8, sizes=TINY, log_every=1, checkpoint_every=1, warmup=1,
        cache=tmp_path / "encodings.pt", **overrides,
    )


def test_tiny_training_run_saves_a_loadable_student(tmp_path):
    lines: list[str] = []
    train(tiny_config(tmp_path, steps=3), echo=lines.append)
    assert any(line.startswith("step     3/3 | loss") for line in lines)
    saved = tmp_path / "student"
    assert (saved / "model.safetensors").is_file()
    assert not (saved / "checkpoint.pt").exists()
    assert not list(saved.glob("*.bin")) and not list(saved.glob("*.pt"))
    student = StudentModel.load(saved)
    assert student.info["steps"] == 3
    assert student.network.config.d_model == 32
    assert "records" in student.info  # the commit of training/records/ (None outside a git checkout)
    # An untrained student still writes only facts the grammar accepts.
    for candidate in student.translate("Ann lies. Does Ann tell the truth?", pack="web_of_lies", beam_size=2):
        assert candidate.facts == "" or candidate.facts.endswith(".\n")


def test_records_version_names_commit_and_changes(tmp_path):
    import subprocess

    from training.records import records_version

    def git(*arguments: str) -> str:
        return subprocess.run(["git", *arguments], cwd=tmp_path, check=True, capture_output=True, text=True).stdout

    assert records_version(tmp_path) is None  # not a git checkout
    git("init", "-q")
    (tmp_path / "navigate.jsonl").write_text("{}\n", encoding="utf-8")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@127.0.0.1", "commit", "-qm", "records")
    commit = git("rev-parse", "--short=12", "HEAD").strip()
    assert records_version(tmp_path) == commit
    (tmp_path / "navigate.jsonl").write_text("{}\n{}\n", encoding="utf-8")
    assert records_version(tmp_path) == f"{commit} with uncommitted changes"


def test_records_match_only_the_same_records(tmp_path):
    import subprocess

    from training.records import records_match, records_version

    records = tmp_path / "records"
    records.mkdir()

    def commit(path: Path, text: str) -> str:
        path.write_text(text, encoding="utf-8")
        for arguments in (["add", "."], ["-c", "user.name=t", "-c", "user.email=t@127.0.0.1", "commit", "-qm", "r"]):
            subprocess.run(["git", *arguments], cwd=tmp_path, check=True, capture_output=True)
        return records_version(records)

    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    first = commit(records / "navigate.jsonl", "{}\n")
    assert records_match(records, first)
    second = commit(tmp_path / "README.md", "x")  # a later commit that leaves the records alone
    assert records_match(records, first)
    assert records_match(records, second)
    third = commit(records / "navigate.jsonl", "{}\n{}\n")
    assert not records_match(records, first)
    assert records_match(records, third)
    (records / "navigate.jsonl").write_text("{}\n", encoding="utf-8")
    assert not records_match(records, third)  # uncommitted changes
    assert not records_match(records, None)


class Interrupted(Exception):
    pass


def interrupt_at_step_two(tmp_path: Path) -> None:
    """Start a four-step run and stop it after step two, leaving its checkpoint."""
    def stop_at_step_two(line: str) -> None:
        if line.startswith("step     2/"):
            raise Interrupted

    with pytest.raises(Interrupted):
        train(tiny_config(tmp_path, steps=4), echo=stop_at_step_two)


def test_interrupted_run_resumes_from_checkpoint(tmp_path):
    interrupt_at_step_two(tmp_path)
    assert (tmp_path / "student" / "checkpoint.pt").is_file()
    lines: list[str] = []
    train(tiny_config(tmp_path, steps=4), echo=lines.append)
    assert any("resumed from" in line and "at step 1" in line for line in lines)
    assert not any(line.startswith("step     1/") for line in lines)


def test_checkpoint_of_other_settings_is_ignored(tmp_path):
    interrupt_at_step_two(tmp_path)
    lines: list[str] = []
    train(tiny_config(tmp_path, steps=4, seed=1), echo=lines.append)
    assert any(line.startswith("ignored ") and "checkpoint.pt" in line for line in lines)
    assert not any("resumed from" in line for line in lines)
    assert any(line.startswith("step     1/") for line in lines)


def test_fingerprint_follows_what_a_run_learns(tmp_path):
    from training.dataset import Example
    from training.train import config_fingerprint

    base = tiny_config(tmp_path, steps=4)
    assert config_fingerprint(base) == config_fingerprint(replace(base, output=tmp_path / "other", threads=1))
    assert config_fingerprint(base) != config_fingerprint(replace(base, subtasks=["navigate"]))
    assert config_fingerprint(base) != config_fingerprint(replace(base, sizes={**TINY, "d_model": 48}))
    target = Example("navigate/1", "Take 1 step.", "navigate", None, "cotrain", "Yes")
    changed = replace(target, facts=[])
    assert config_fingerprint(replace(base, extra_examples=[target])) != config_fingerprint(base)
    assert (config_fingerprint(replace(base, extra_examples=[target]))
            != config_fingerprint(replace(base, extra_examples=[changed])))


def test_tiny_rationale_run_answers_among_options(tmp_path):
    from reasoner.question import parse_question
    from reasoner.student.encoder import PretrainedEncoder
    from reasoner.student.rationale import RationaleModel
    from reasoner.student.words import segment
    from training.train_rationale import train_rationale

    lines: list[str] = []
    train_rationale(tiny_config(tmp_path, steps=2), echo=lines.append)
    assert any(line.startswith("rationales: ") for line in lines)
    model = RationaleModel.load(tmp_path / "student" / "rationale")
    assert model is not None
    text = "Who has the hat?\nOptions:\n(A) scarf\n(B) hat"
    encoded = PretrainedEncoder().encode(text, segment(text))
    fallback = model.answer(parse_question(text), encoded)
    assert fallback.answer in ("(A)", "(B)")
    assert fallback.rationale.endswith(f"So the answer is {fallback.answer}.")


def test_encoding_cache_reencodes_stale_words(tmp_path):
    """A cached entry whose words differ from the current segmentation is encoded again, and so is another encoder's."""
    import torch

    from reasoner.student.encoder import EncodedQuestion, word_flags
    from reasoner.student.words import segment
    from training.dataset import EncodingCache

    class CountingEncoder:
        def __init__(self, path: Path):
            self.path = path
            self.calls = 0

        def encode(self, text, words):
            self.calls += 1
            return EncodedQuestion(words, torch.zeros(len(words), 4), word_flags(words), torch.zeros(4))

    text = "Ōtake's lamp is left of the bowl."
    encoder = CountingEncoder(tmp_path / "encoder")
    cache = EncodingCache(tmp_path / "encodings.pt")
    assert cache.get(encoder, text).words == segment(text)
    cache.get(encoder, text)
    assert encoder.calls == 1

    (entry,) = cache.entries.values()
    entry.words = entry.words[:-1]  # as written by an older segmenter
    cache.save()
    reloaded = EncodingCache(tmp_path / "encodings.pt")
    assert reloaded.get(encoder, text).words == segment(text)
    assert encoder.calls == 2

    other = CountingEncoder(tmp_path / "other-encoder")
    reloaded.get(other, text)
    assert other.calls == 1

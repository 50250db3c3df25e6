"""Shared fixtures: one solver process and one loaded student per test session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reasoner.packs import load_packs
from reasoner.paths import DEFAULT_BBH_DIR, MODEL_DIR
from reasoner.solver import Solver

TESTS = Path(__file__).parent
ROOT = TESTS.parent


@pytest.fixture(scope="session")
def packs():
    return load_packs()


@pytest.fixture(scope="session")
def solver():
    with Solver() as running:
        yield running


@pytest.fixture(scope="session")
def student():
    from reasoner.student import StudentModel

    return StudentModel.load(MODEL_DIR)


@pytest.fixture(scope="session")
def reasoner(student):
    from reasoner.pipeline import Reasoner

    with Reasoner(student) as running:
        yield running


@pytest.fixture(scope="session")
def bbh_dir():
    if not (DEFAULT_BBH_DIR / "bbh").is_dir():
        pytest.skip(f"no BBH clone at {DEFAULT_BBH_DIR}")
    return DEFAULT_BBH_DIR


def unseen_questions(name: str = "unseen.jsonl") -> list[dict]:
    """Questions written for the project: names, scenes and sizes that BBH never uses."""
    path = TESTS / "data" / name
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def pack_questions() -> list[dict]:
    """One or more project-written questions, with gold facts, for every pack."""
    return unseen_questions("unseen.jsonl") + unseen_questions("unseen_more.jsonl")

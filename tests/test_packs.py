"""Rule packs: structure, regression cases, and plain clingo agreeing with reason."""

from __future__ import annotations

import subprocess
import sys

import pytest

from reasoner.packs import load_packs
from reasoner.rulebase import check_pack, pack_doc, run_cases

PACKS = sorted(load_packs())
CASES = [(name, case.name) for name in PACKS for case in load_packs()[name].cases]


@pytest.mark.parametrize("name", PACKS)
def test_pack_is_well_formed(packs, name):
    assert check_pack(packs[name]) == []


@pytest.mark.parametrize("name, case", CASES)
def test_regression_case(packs, solver, name, case):
    results = {r.case: r for r in run_cases(packs[name], solver)}
    result = results[case]
    assert result.actual == result.expected, result.message


@pytest.mark.parametrize("name, case", CASES)
def test_plain_clingo_agrees(packs, name, case):
    """`clingo rules/<pack>/*.lp case.lp`, run by hand, gives the answer reason gives."""
    pack = packs[name]
    path = next(c.path for c in pack.cases if c.name == case)
    expected = next(c.expected for c in pack.cases if c.name == case)
    command = [sys.executable, "-m", "clingo", *map(str, pack.rule_files), str(path), "-n", "0", "--project=show"]
    output = subprocess.run(command, capture_output=True, text=True, timeout=60).stdout
    answers = sorted(line for line in output.splitlines() if line.startswith("answer("))
    if expected.startswith("<"):
        if expected == "<unsatisfiable>":
            assert "UNSATISFIABLE" in output
        elif expected == "<several answers>":
            assert len(answers) > 1
        elif expected == "<no answer>":
            assert answers == []
    else:
        assert answers == [f'answer("{expected}")']


@pytest.mark.parametrize("name", PACKS)
def test_pack_doc_lists_rules_and_cases(packs, name):
    page = pack_doc(packs[name])
    assert page.startswith(f"# Rule pack `{name}`")
    assert "## Inputs" in page
    assert "Provenance:" in page
    for case in packs[name].cases:
        assert f"`{case.name}`" in page

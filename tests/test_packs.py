"""Rule packs: structure, regression cases, and the plain solvers agreeing with reason."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

import clingo

from reasoner.facts import parse_facts
from reasoner.packs import load_pack, load_packs
from reasoner.rulebase import check_pack, pack_doc, run_cases
from reasoner.symbols import symbol_value

PACKS = sorted(load_packs())
CASES = [(name, case.name) for name in PACKS for case in load_packs()[name].cases]


@pytest.mark.parametrize("name", PACKS)
def test_pack_is_well_formed(packs, name):
    assert check_pack(packs[name]) == []


@pytest.mark.parametrize("name", PACKS)
def test_annotation_prompt_documents_every_input(packs, name):
    """The teacher writes only the facts its prompt names, so a pack input it omits never gets data."""
    from training.annotate import prompt_path

    prompt = prompt_path(name).read_text(encoding="utf-8")
    missing = [predicate for predicate in packs[name].inputs
               if not re.search(rf"(?<![\w]){re.escape(predicate)}\(", prompt)]
    assert missing == [], f"{prompt_path(name).name} does not describe {missing}"


@pytest.mark.parametrize("name, case", CASES)
def test_regression_case(packs, solver, name, case):
    results = {r.case: r for r in run_cases(packs[name], solver)}
    result = results[case]
    assert result.actual == result.expected, result.message


def plain_solver_output(pack, facts_path, tmp_path) -> str:
    """Run the pack's own solver by hand, without reason, on a case's facts."""
    if pack.engine == "prolog":
        prolog_facts = tmp_path / "facts.pl"
        prolog_facts.write_text("".join(f.render_prolog() + "\n" for f in parse_facts(facts_path.read_text())))
        goal = 'forall(answer(X), format("answer(\\"~w\\")~n", [X])), halt'
        command = ["swipl", "-q", "-g", goal, *map(str, pack.rule_files), str(prolog_facts)]
        return subprocess.run(command, capture_output=True, text=True, timeout=60).stdout
    command = [sys.executable, "-m", "clingo", *map(str, pack.rule_files), str(facts_path), "-n", "0",
               "--project=show", "--outf=2"]
    report = json.loads(subprocess.run(command, capture_output=True, text=True, timeout=60).stdout)
    # One line per answer set, its atoms separated by newlines within the set.
    lines = [atom for call in report["Call"] for witness in call.get("Witnesses", []) for atom in witness["Value"]]
    if report["Result"] == "UNSATISFIABLE":
        lines.append("UNSATISFIABLE")
    return "\n".join(lines)


@pytest.mark.parametrize("name, case", CASES)
def test_plain_solver_agrees(packs, tmp_path, name, case):
    """`clingo rules/<pack>/*.lp case.lp` (or swipl for Prolog packs), run by hand, gives reason's answer."""
    pack = packs[name]
    path = next(c.path for c in pack.cases if c.name == case)
    expected = next(c.expected for c in pack.cases if c.name == case)
    output = plain_solver_output(pack, path, tmp_path)
    atoms = [clingo.parse_term(line) for line in output.splitlines() if line.startswith("answer(")]
    if pack.answer_predicate.endswith("/2"):
        ordered = sorted((atom.arguments[0].number, symbol_value(atom.arguments[1])) for atom in atoms)
        values = [" ".join(value for _, value in ordered)] if ordered else []
    else:
        values = sorted(symbol_value(atom.arguments[0]) for atom in atoms)
    if pack.unsatisfiable_answer and "UNSATISFIABLE" in output:
        values = [pack.unsatisfiable_answer]
    if expected == "<unsatisfiable>":
        assert "UNSATISFIABLE" in output or (pack.engine == "prolog" and values == [])
    elif expected == "<several answers>":
        assert len(values) > 1
    elif expected == "<no answer>":
        assert values == []
    else:
        assert values == [expected]


@pytest.mark.parametrize("name", PACKS)
def test_pack_doc_lists_rules_and_cases(packs, name):
    page = pack_doc(packs[name])
    assert page.startswith(f"# Rule pack `{name}`")
    assert "## Inputs" in page
    assert "Provenance:" in page
    for case in packs[name].cases:
        assert f"`{case.name}`" in page


def test_pack_doc_keeps_multiline_comments(tmp_path):
    pack_dir = tmp_path / "demo"
    (pack_dir / "cases").mkdir(parents=True)
    (pack_dir / "pack.toml").write_text(
        'name = "demo"\npurpose = "Demo."\nengine = "clingo"\nanswer = "answer/1"\n[inputs]\nq = ["name"]\n',
        encoding="utf-8")
    (pack_dir / "rules.lp").write_text(
        "% Purpose: demo.\n\n#defined q/1.\n\n% Define: the first line of a comment\n% and its second line.\n"
        "answer(X) :- q(X).\n\n#show answer/1.\n", encoding="utf-8")
    page = pack_doc(load_pack(pack_dir))
    assert "- line 5: Define: the first line of a comment and its second line." in page
    assert "answer(X) :- q(X)." in page


@pytest.mark.parametrize("name", PACKS)
def test_committed_doc_is_current(packs, name):
    """docs/rules/<pack>.md is what `reason rules doc` writes now; rerun it after changing a pack."""
    from pathlib import Path

    committed = Path(__file__).resolve().parent.parent / "docs" / "rules" / f"{name}.md"
    assert committed.read_text(encoding="utf-8") == pack_doc(packs[name])


@pytest.mark.parametrize("option", ["list_ends_line", "list_after_colon"])
def test_list_option_without_consecutive(tmp_path, option):
    from reasoner.packs import PackError

    pack_dir = tmp_path / "demo"
    pack_dir.mkdir()
    (pack_dir / "pack.toml").write_text(
        f'name = "demo"\npurpose = "Demo."\nengine = "clingo"\nanswer = "answer/1"\n{option} = true\n'
        '[inputs]\nq = ["name"]\n', encoding="utf-8")
    (pack_dir / "rules.lp").write_text("#defined q/1.\nanswer(X) :- q(X).\n#show answer/1.\n", encoding="utf-8")
    with pytest.raises(PackError, match=f"{option} = true is invalid without consecutive = true"):
        load_pack(pack_dir)

"""The solver wrapper: every outcome, time limits, and refusing unsafe packs."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reasoner.facts import Fact, parse_facts
from reasoner.packs import load_pack
from reasoner.question import parse_question
from reasoner.rulebase import check_pack, forbidden_statements
from reasoner.solver import Outcome, Solver


def make_pack(directory: Path, rules: str, inputs: str = 'item = ["name"]', extra: str = "") -> Path:
    directory.mkdir()
    (directory / "pack.toml").write_text(textwrap.dedent(f"""\
        name = "{directory.name}"
        purpose = "A pack written by a test."
        engine = "clingo"
        answer = "answer/1"
        {extra}
        [inputs]
        {inputs}
        """), encoding="utf-8")
    (directory / "rules.lp").write_text(textwrap.dedent(rules), encoding="utf-8")
    return directory


def test_unique_answer(packs, solver):
    result = solver.solve(packs["web_of_lies"], parse_facts('given("Ann", lie). ask("Ann").'))
    assert result.outcome is Outcome.ANSWER
    assert result.answer == "No"


def test_unsatisfiable(packs, solver):
    facts = parse_facts('given("Ann", lie). given("Ann", truth). ask("Ann").')
    assert solver.solve(packs["web_of_lies"], facts).outcome is Outcome.UNSATISFIABLE


def test_several_answers(packs, solver):
    result = solver.solve(packs["web_of_lies"], parse_facts('says("Ann", "Bo", lie). ask("Bo").'))
    assert result.outcome is Outcome.SEVERAL_ANSWERS
    assert result.values == ["No", "Yes"]


def test_no_answer(packs, solver):
    result = solver.solve(packs["boolean_expressions"], parse_facts('token(1, "True"). token(2, "and").'))
    assert result.outcome is Outcome.NO_ANSWER


def test_answer_not_among_options(packs, solver):
    question = parse_question("Who has the hat?\nOptions:\n(A) scarf\n(B) gloves")
    facts = parse_facts('start("Ann", "hat"). start("Bo", "scarf"). ask("Ann").')
    result = solver.solve(packs["tracking_shuffled_objects"], facts, question)
    assert result.outcome is Outcome.NOT_AN_OPTION


def test_answer_matched_to_option_letter(packs, solver):
    question = parse_question("Who has the hat?\nOptions:\n(A) scarf\n(B) hat")
    facts = parse_facts('start("Ann", "hat"). start("Bo", "scarf"). ask("Ann").')
    result = solver.solve(packs["tracking_shuffled_objects"], facts, question)
    assert result.answer == "(B)"


def test_translation_error_for_unknown_predicate(packs, solver):
    result = solver.solve(packs["web_of_lies"], [Fact("tells", ("Ann",), 1, 1)])
    assert result.outcome is Outcome.TRANSLATION_ERROR
    assert "unknown predicate tells/1" in result.message


def test_solver_error_for_broken_pack(tmp_path, solver):
    pack = load_pack(make_pack(tmp_path / "broken", "answer(X) :- item(X)\n#show answer/1."))
    result = solver.solve(pack, parse_facts('item("a").'))
    assert result.outcome is Outcome.SOLVER_ERROR


def test_runaway_grounding_hits_time_limit(tmp_path, solver):
    rules = """\
        #defined item/1.
        n(1..100000000).
        big(X, Y) :- n(X), n(Y), item(_).
        answer("never") :- big(1, 1), item(_).
        #show answer/1.
        """
    pack = load_pack(make_pack(tmp_path / "runaway", rules))
    started = time.perf_counter()
    result = solver.solve(pack, parse_facts('item("a").'), time_limit=1.0)
    assert result.outcome is Outcome.TIME_LIMIT
    assert time.perf_counter() - started < 10
    # The solver process was replaced and still works.
    ok = solver.solve(load_pack(make_pack(tmp_path / "fine", '#defined item/1.\nanswer(X) :- item(X).\n#show answer/1.')),
                      parse_facts('item("a").'))
    assert ok.answer == "a"


def test_runaway_solving_hits_time_limit(tmp_path, solver):
    # Pigeonhole: 13 pigeons in 12 holes is unsatisfiable and hard for CDCL solvers.
    rules = """\
        #defined item/1.
        pigeon(1..13). hole(1..12).
        1 { in(P, H) : hole(H) } 1 :- pigeon(P), item(_).
        :- hole(H), 2 { in(P, H) : pigeon(P) }.
        answer("placed") :- item(_).
        #show answer/1.
        """
    pack = load_pack(make_pack(tmp_path / "pigeons", rules))
    result = solver.solve(pack, parse_facts('item("a").'), time_limit=1.0)
    assert result.outcome is Outcome.TIME_LIMIT


def test_script_pack_is_flagged(tmp_path):
    rules = """\
        % Purpose: x
        % Inputs: x
        % Answer: x
        % Provenance: x
        #defined item/1.
        #script (python)
        import os
        #end.
        answer(X) :- item(X).
        #show answer/1.
        """
    pack = load_pack(make_pack(tmp_path / "scripted", rules))
    found = forbidden_statements(pack.rule_files[0])
    assert len(found) == 1
    assert "#script" in found[0]
    assert any("#script" in problem for problem in check_pack(pack))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["given", "says", "ask", "other"]),
                          st.lists(st.one_of(st.text(min_size=0, max_size=12), st.integers(-5, 5),
                                             st.sampled_from(["truth", "lie", "maybe"])), max_size=3)),
                max_size=8))
def test_solver_wrapper_never_crashes(packs, solver, items):
    """Generated facts always end in one of the named outcomes."""
    from reasoner.facts import Constant

    facts = [Fact(p, tuple(Constant(a) if a in ("truth", "lie", "maybe") else a for a in args)) for p, args in items]
    result = solver.solve(packs["web_of_lies"], facts)
    assert isinstance(result.outcome, Outcome)


NAMES = ["Zoë", "O'Brien", 'Bea "Bee" Ruiz', "Jean-Luc", "back\\slash", "Ōtake's 'quoted' café", "line\\nbreak"]


def make_prolog_pack(directory: Path) -> Path:
    directory.mkdir(parents=True)
    (directory / "pack.toml").write_text(textwrap.dedent(f"""\
        name = "{directory.name}"
        purpose = "A Prolog pack written by a test."
        engine = "prolog"
        answer = "answer/1"
        [inputs]
        person = ["name"]
        """), encoding="utf-8")
    (directory / "echo.pl").write_text(":- dynamic person/1.\nanswer(X) :- person(X).\n", encoding="utf-8")
    return directory


@pytest.mark.parametrize("name", NAMES)
def test_names_round_trip_through_prolog(tmp_path, solver, name):
    pack = load_pack(make_prolog_pack(tmp_path / "echo"))
    result = solver.solve(pack, [Fact("person", (name,))])
    assert result.outcome is Outcome.ANSWER
    assert result.answer == name


def test_prolog_same_name_packs_isolated(tmp_path, solver):
    """Two Prolog packs of one name from different folders each run only their own rules in one solver."""
    first_dir = make_prolog_pack(tmp_path / "one" / "echo")
    (first_dir / "more.pl").write_text("known(\"Ada\").\n", encoding="utf-8")
    first = load_pack(first_dir)
    second_dir = make_prolog_pack(tmp_path / "two" / "echo")
    (second_dir / "echo.pl").write_text(
        ":- dynamic person/1, known/1.\nanswer(X) :- person(X), \\+ known(X).\nanswer(nobody) :- known(_).\n",
        encoding="utf-8")
    second = load_pack(second_dir)
    for pack, expected in ((first, "Ada"), (second, "Ada"), (first, "Ada")):
        result = solver.solve(pack, [Fact("person", ("Ada",))])
        assert (result.outcome, result.answer) == (Outcome.ANSWER, expected)


@pytest.mark.parametrize("name", NAMES)
def test_names_round_trip_through_clingo(tmp_path, solver, name):
    rules = '#defined item/1.\nanswer(X) :- item(X).\n#show answer/1.\n'
    pack = load_pack(make_pack(tmp_path / "echo", rules))
    result = solver.solve(pack, [Fact("item", (name,))])
    assert result.outcome is Outcome.ANSWER
    assert result.answer == name


GEOMETRY_QUESTION = """Which shape does this path draw? <path d="M 0.00,0.00 L 4.00,0.00 L 2.00,3.00 Z"/>
Options:
(A) square
(B) triangle
(C) star"""
GEOMETRY_PATH = ('moveto(1, absolute, "0.00", "0.00").\nlineto(2, absolute, "4.00", "0.00").\n'
                 'lineto(3, absolute, "2.00", "3.00").\nclosepath(4).\n')


@pytest.mark.parametrize("options, outcome, answer", [
    ('option("A", square).\noption("B", triangle).\noption("C", other).\n', Outcome.ANSWER, "(B)"),
    # Options written from memory: the label B names a triangle, not a circle.
    ('option("A", triangle).\noption("B", circle).\n', Outcome.TRANSLATION_ERROR, None),
    # "star" is not a shape constant of the pack, so only other may name it.
    ('option("B", triangle).\noption("C", square).\n', Outcome.TRANSLATION_ERROR, None),
    ('option("D", triangle).\n', Outcome.TRANSLATION_ERROR, None),
])
def test_option_facts_match_question(packs, solver, options, outcome, answer):
    result = solver.solve(packs["geometric_shapes"], parse_facts(GEOMETRY_PATH + options),
                          parse_question(GEOMETRY_QUESTION))
    assert result.outcome is outcome, result.message
    assert result.answer == answer


def test_prolog_hyphen_pack_name(tmp_path, solver):
    """A Prolog pack whose name has a hyphen gets a valid module atom and solves."""
    result = solver.solve(load_pack(make_prolog_pack(tmp_path / "my-echo")), [Fact("person", ("Ada",))])
    assert result.outcome is Outcome.ANSWER, result.message
    assert result.answer == "Ada"

"""The fact grammar: what it accepts, what it rejects and where, and round trips."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reasoner.facts import (
    Constant, Fact, TranslationError, check_facts, parse_facts, quote_string, render_facts, unquote_string,
)

ACCEPTED = [
    ("", []),
    ("ask(\"Ann\").", [Fact("ask", ("Ann",))]),
    ("given(\"Zoë\", truth).", [Fact("given", ("Zoë", Constant("truth")))]),
    ("move(1, left, -3).", [Fact("move", (1, Constant("left"), -3))]),
    ("% a comment\nflag.", [Fact("flag")]),
    ('name("O\'Brien \\"Bee\\"").', [Fact("name", ('O\'Brien "Bee"',))]),
    ('a("x").\r\nb("y").', [Fact("a", ("x",)), Fact("b", ("y",))]),
]

# (text, line, column) of the first rejected character or token.
REJECTED = [
    ("a(X).", 1, 3),  # variable
    ("a(b) :- c.", 1, 6),  # rule
    ("#script (python) import os #end.", 1, 1),
    ("#include \"x.lp\".", 1, 1),
    ("#show a/1.", 1, 1),
    ("a(b)", 1, 5),  # no period: points after the text
    ("a(b).\nb(", 2, 3),
    ("a(not).", 1, 3),  # clingo keyword
    ("a(\"unterminated).", 1, 3),
    ("a(\"line\nbreak\").", 1, 3),
    ("halt.\n:- halt.", 2, 1),
    ("a(f(x)).", 1, 4),  # nested terms are not facts of the language
]


@pytest.mark.parametrize("text, expected", ACCEPTED)
def test_grammar_accepts(text, expected):
    assert parse_facts(text) == expected


@pytest.mark.parametrize("text, line, column", REJECTED)
def test_grammar_rejects_with_position(text, line, column):
    with pytest.raises(TranslationError) as error:
        parse_facts(text)
    assert (error.value.line, error.value.column) == (line, column)


def test_positions_of_parsed_facts():
    facts = parse_facts('a("x").\n  b(1).')
    assert [(f.line, f.column) for f in facts] == [(1, 1), (2, 3)]


SIGNATURE = {"says": ("name", "name", "truth|lie"), "swap": ("seq", "name", "name"), "count": ("int",)}


@pytest.mark.parametrize(
    "text, message",
    [
        ('tells("a").', "unknown predicate tells/1"),
        ('says("a", "b").', "says takes 3 arguments, got 2"),
        ('says("a", "b", maybe).', "must be one of truth, lie"),
        ('says(a, "b", lie).', "must be a quoted string"),
        ('says("", "b", lie).', "non-empty string"),
        ('count("3").', "must be an integer"),
    ],
)
def test_check_rejects_bad_facts(text, message):
    with pytest.raises(TranslationError) as error:
        check_facts(parse_facts(text), SIGNATURE)
    assert message in str(error.value)
    assert error.value.line == 1


def test_check_accepts_good_facts():
    check_facts(parse_facts('says("a", "b", lie). swap(1, "a", "b"). count(4).'), SIGNATURE)


def test_overlong_string_rejected():
    with pytest.raises(TranslationError, match="longer than the limit"):
        parse_facts(f'a("{"x" * 201}").')


names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)


@given(names)
def test_string_quoting_round_trip(name):
    assert unquote_string(quote_string(name)) == name


@given(st.lists(st.tuples(st.sampled_from(["a", "says", "b_2"]), st.lists(
    st.one_of(names.filter(lambda s: "\r" not in s), st.integers(-10**6, 10**6),
              st.sampled_from([Constant("truth"), Constant("x1")])), max_size=4)), max_size=6))
def test_render_parse_round_trip(items):
    facts = [Fact(p, tuple(args)) for p, args in items]
    assert parse_facts(render_facts(facts)) == facts


@settings(max_examples=300)
@given(st.text(max_size=80))
def test_arbitrary_text_parses_or_raises_translation_error(text):
    try:
        facts = parse_facts(text)
    except TranslationError as error:
        assert error.line >= 1
    else:
        # Whatever parses renders to facts that parse to the same thing.
        assert parse_facts(render_facts(facts)) == facts

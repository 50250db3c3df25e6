"""Reading questions: decoding, line endings, options, and answer matching."""

from __future__ import annotations

import pytest

from reasoner.question import MAX_QUESTION_BYTES, InputError, Option, decode_input, normalize_answer, parse_question


def test_bom_and_crlf_read_like_plain_text():
    plain = decode_input("Ann lies.\nDoes Ann tell the truth?\n".encode())
    assert decode_input(b"\xef\xbb\xbf" + "Ann lies.\r\nDoes Ann tell the truth?\r\n".encode()) == plain


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "is empty"),
        (b"  \n\t \r\n", "is empty"),
        (b"\xff\xfe\x00a", "binary"),
        (b"caf\xe9", "not valid UTF-8"),
        (b"a\x1bb", "control character"),
        (b"x" * (MAX_QUESTION_BYTES + 1), "the limit is"),
    ],
)
def test_bad_input_rejected(data, message):
    with pytest.raises(InputError, match=message):
        decode_input(data)


def test_lettered_options_split_off():
    question = parse_question("Who is first?\nOptions:\n(A) Ann is first\n(B) Bo is first")
    assert question.stem == "Who is first?"
    assert question.options == (Option("A", "Ann is first"), Option("B", "Bo is first"))


def test_dashed_options_split_off():
    question = parse_question("Do you return?\nOptions:\n- Yes\n- No")
    assert [o.text for o in question.options] == ["Yes", "No"]
    assert question.match("yes") == "Yes"


def test_question_without_options_uses_domain():
    question = parse_question("True and False is")
    assert question.options == ()
    assert question.match("False", ("True", "False")) == "False"
    assert question.match("maybe", ("True", "False")) is None


def test_match_by_label_or_text():
    question = parse_question("Q\nOptions:\n(A) red ball\n(B) Zoë's hat")
    assert question.match("B") == "(B)"
    assert question.match("red ball") == "(A)"
    assert question.match("zoë's hat.") == "(B)"
    assert question.match("green ball") is None


def test_text_after_options_block_keeps_no_options():
    question = parse_question("Q\nOptions:\n(A) one\nSome other text")
    assert question.options == ()


def test_normalize_answer():
    assert normalize_answer("  The  Red Ball. ") == "the red ball"

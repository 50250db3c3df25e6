"""Word segmentation of question text, the units the student points at to copy names.

A word is a run of letters with inner apostrophes or hyphens ("O'Brien",
"second-to-last"), a run of digits, or any other single non-space character.
Copying a span of words takes the original text from the first word's start to
the last word's end, so names come out exactly as the question writes them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*|\d+|\S")
# Longest span, in words, that may be copied as one name.
MAX_SPAN_WORDS = 10


@dataclass(frozen=True)
class Word:
    text: str
    start: int
    end: int
    line: int

    @property
    def is_alphanumeric(self) -> bool:
        return self.text[0].isalnum()

    @property
    def is_digits(self) -> bool:
        return self.text.isdigit()


def segment(text: str) -> list[Word]:
    """Split text into words with their character offsets and line numbers."""
    words = []
    line = 0
    position = 0
    for match in _WORD.finditer(text):
        line += text.count("\n", position, match.start())
        position = match.start()
        words.append(Word(match.group(), match.start(), match.end(), line))
    return words


def span_text(text: str, words: list[Word], first: int, last: int) -> str:
    """Return the question text covered by words ``first`` to ``last`` (inclusive)."""
    return text[words[first].start:words[last].end]


def can_start_span(words: list[Word], index: int) -> bool:
    """Return whether a copied name may begin at word ``index`` (a letter, digit or quote)."""
    return words[index].is_alphanumeric or words[index].text in "\"'“‘"


def can_end_span(words: list[Word], first: int, last: int) -> bool:
    """Return whether words ``first``..``last`` form a span that may be copied as one name.

    NOTE: a name never runs over a clause, so a span may not end on a period, hold a
    period that ends a sentence, or hold a comma or a parenthesis. Names such as
    "Ronald Acuña Jr." or "Lip Gloss (BCMK)" cannot be copied whole, and a word inside
    a hyphenated word ("burgundy" in "non-burgundy") cannot be copied alone.
    """
    if last < first or last - first >= MAX_SPAN_WORDS:
        return False
    if words[last].line != words[first].line:
        return False
    if not (words[last].is_alphanumeric or words[last].text in "\"'”’"):
        return False
    # A name does not run over a comma, colon, semicolon or sentence end.
    if any(words[k].text in ",;:?!()" for k in range(first, last + 1)):
        return False
    return not any(_ends_sentence(words, k) for k in range(first + 1, last))


# Abbreviations whose period does not end a sentence ("Dr. Haddad"), in lower case.
ABBREVIATIONS = frozenset({"dr", "mr", "mrs", "ms", "prof", "st", "mt", "jr", "sr", "co", "inc", "ltd", "no", "vs"})


def _ends_sentence(words: list[Word], index: int) -> bool:
    """Return whether word ``index`` is a period that ends a sentence inside a span.

    A period ends a sentence when a space follows it ("Owen. Every"), unless it
    closes an initial ("R. Charleroi") or a common abbreviation ("St. Andrew's").
    """
    if words[index].text != "." or words[index + 1].start == words[index].end:
        return False
    before = words[index - 1].text
    return not ((len(before) == 1 and before.isupper()) or before.lower() in ABBREVIATIONS)


def find_spans(text: str, words: list[Word], name: str) -> list[tuple[int, int]]:
    """Return every span of words whose text is exactly ``name``."""
    spans = []
    for first, word in enumerate(words):
        if not name.startswith(word.text):
            continue
        for last in range(first, min(len(words), first + MAX_SPAN_WORDS)):
            covered = span_text(text, words, first, last)
            if covered == name:
                if can_end_span(words, first, last):
                    spans.append((first, last))
                break
            if len(covered) >= len(name):
                break
    return spans

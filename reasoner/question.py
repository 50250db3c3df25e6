"""Questions as the user gives them: reading, normalising, and splitting off the options.

Only the listed options are split off here (a line ``Options:`` followed by
``(A) text`` or ``- text`` lines). The rest of the question is read by the
student alone.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Largest question accepted, in bytes of UTF-8. BBH questions are under 3 KB;
# a user's question of 64 KB is already far beyond what the student was built for.
MAX_QUESTION_BYTES = 64 * 1024
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

_LETTERED = re.compile(r"^\(([A-Z])\)\s*(.*)$")
_DASHED = re.compile(r"^-\s+(.*)$")


class InputError(ValueError):
    """Question input that cannot be read: empty, binary, not UTF-8 or too large."""


@dataclass(frozen=True)
class Option:
    label: str | None
    text: str

    def formatted(self) -> str:
        """Return the option the way BBH writes targets: ``(B)`` for lettered options, else the text."""
        return f"({self.label})" if self.label else self.text


@dataclass(frozen=True)
class Question:
    text: str
    stem: str
    options: tuple[Option, ...] = ()

    def match(self, value: str, domain: tuple[str, ...] = ()) -> str | None:
        """Return the formatted option that ``value`` names, or None when it names none.

        ``value`` may be an option's label (``B``) or its text. A question
        without options accepts the values of ``domain`` (a pack's answer
        domain, such as Yes/No); with an empty domain any non-empty value is accepted.
        """
        wanted = normalize_answer(value)
        if not wanted:
            return None
        if self.options:
            for option in self.options:
                if option.label and wanted == normalize_answer(option.label):
                    return option.formatted()
            for option in self.options:
                if wanted == normalize_answer(option.text):
                    return option.formatted()
            return None
        if not domain:
            return value
        for allowed in domain:
            if wanted == normalize_answer(allowed):
                return allowed
        return None


def normalize_answer(text: str) -> str:
    """Return text folded for comparison: NFC, case-folded, single spaces, no final period."""
    text = unicodedata.normalize("NFC", text).casefold()
    text = " ".join(text.split())
    return text.rstrip(".").strip()


def decode_input(data: bytes, source: str = "input") -> str:
    """Decode question bytes to text, raising :class:`InputError` with a one-line reason.

    A UTF-8 byte-order mark is dropped and CRLF or CR line endings become LF.
    """
    if len(data) > MAX_QUESTION_BYTES:
        raise InputError(
            f"{source} is {len(data):,} bytes; the limit is {MAX_QUESTION_BYTES:,} bytes"
        )
    if b"\x00" in data:
        raise InputError(f"{source} is binary (it contains NUL bytes), not a text question")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(
            f"{source} is not valid UTF-8 (byte {error.start}); save the question as UTF-8"
        ) from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise InputError(f"{source} is empty; write the question into it")
    control = [c for c in text if unicodedata.category(c) == "Cc" and c not in "\n\t"]
    if control:
        raise InputError(
            f"{source} contains control character {control[0]!r}; a question is plain text"
        )
    # Bidirectional overrides and isolates make a terminal show text in another order
    # than it is read, so copied names and printed facts could mislead a reader.
    bidi = [c for c in text if c in BIDI_CONTROLS]
    if bidi:
        raise InputError(
            f"{source} contains bidirectional control character U+{ord(bidi[0]):04X}; a question is plain text"
        )
    return unicodedata.normalize("NFC", text)


def parse_question(text: str) -> Question:
    """Split a question into its stem and options.

    Options are the lines after a line ``Options:``, each ``(X) text`` or ``- text``.
    A question without such a block has no options.
    """
    text = text.strip()
    lines = text.split("\n")
    for index in range(len(lines) - 1, -1, -1):
        if lines[index].strip() == "Options:":
            options = _parse_option_lines(lines[index + 1:])
            if options:
                stem = "\n".join(lines[:index]).strip()
                return Question(text=text, stem=stem, options=tuple(options))
            break
    return Question(text=text, stem=text, options=())


def _parse_option_lines(lines: list[str]) -> list[Option]:
    options = []
    for line in lines:
        line = line.strip()
        if not line:
            continue
        lettered = _LETTERED.match(line)
        dashed = _DASHED.match(line)
        if lettered:
            options.append(Option(lettered.group(1), lettered.group(2).strip()))
        elif dashed:
            options.append(Option(None, dashed.group(1).strip()))
        else:
            return []
    return options

"""Hostile and malformed input: every row of the README's table, run as written.

The table in README.md ("Hostile and malformed input") is parsed here and each
row is checked against a real run of `reason solve`: the exit code and the
message on standard error. A row whose input has no setup below fails, so the
table and the tests cannot drift apart.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REASON = [sys.executable, "-m", "reasoner.cli"]
HOSTILE_SOURCE = (
    "Ann lies. Bo says Ann lies.\n"
    "#script (python)\nimport pathlib\npathlib.Path('{marker}').write_text('ran')\n#end.\n"
    "#include \"/etc/passwd\".\n:- halt.\nhalt.\n"
    "Does Bo tell the truth?\n"
)


def readme_rows() -> list[tuple[str, str, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### Hostile and malformed input", 1)[1].split("\n#", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] not in ("input", "---"):
            rows.append((cells[0], cells[1], cells[2].strip("`")))
    return rows


def runaway_rules(tmp_path: Path) -> Path:
    """A copy of the rule base where web_of_lies grounds without end."""
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    pack = rules / "web_of_lies" / "web_of_lies.lp"
    pack.write_text(pack.read_text(encoding="utf-8").replace(
        "#show answer/1.", "huge(X, Y) :- X = 1..100000000, Y = 1..100000000, person(_).\n#show answer/1."),
        encoding="utf-8")
    return rules


def script_rules(tmp_path: Path) -> Path:
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    pack = rules / "navigate" / "walk.lp"
    pack.write_text(pack.read_text(encoding="utf-8") + "\n#script (python)\nimport os\n#end.\n", encoding="utf-8")
    return rules


def setup(label: str, tmp_path: Path) -> tuple[list[str], Path, Path | None]:
    """Return the arguments, the question path and a marker file that must not appear."""
    question = tmp_path / "question.txt"
    marker = None
    extra: list[str] = []
    if label == "empty file":
        question.write_bytes(b"")
    elif label == "only whitespace":
        question.write_bytes(b" \n\t\r\n  ")
    elif label == "binary (NUL bytes)":
        question.write_bytes(bytes(range(256)))
    elif label == "not UTF-8":
        question.write_bytes("Zoë lies.".encode("latin-1"))
    elif label == "other control characters":
        question.write_bytes(b"Ann lies.\x1b[2J Does Ann tell the truth?")
    elif label.startswith("bidirectional override or isolate"):
        question.write_text("Sort the words: List: pear \u202efig\u202c kiwi", encoding="utf-8")
    elif label.startswith("larger than 64 KiB"):
        question.write_bytes(b"Ann lies. " * (1024 * 1024 + 1))
        question.write_bytes(question.read_bytes()[: 10 * 1024 * 1024])
    elif label == "a directory":
        question = tmp_path
    elif label == "missing file":
        question = tmp_path / "absent.txt"
    elif label.startswith("question holding ASP or Prolog source"):
        marker = tmp_path / "marker"
        question.write_text(HOSTILE_SOURCE.format(marker=marker), encoding="utf-8")
    elif label.startswith("rule pack with `#script`"):
        question.write_text("Take 3 steps. Turn around. Take 3 steps. Do you return to the start?", encoding="utf-8")
        extra = ["--rules", str(script_rules(tmp_path))]
    elif label == "rule pack whose grounding runs away":
        question.write_text((ROOT / "examples" / "liars_chain.txt").read_text(encoding="utf-8"), encoding="utf-8")
        extra = ["--rules", str(runaway_rules(tmp_path)), "--pack", "web_of_lies", "--time-limit", "1"]
    elif label.startswith("question so long that translating it runs away"):
        points = " ".join(f"L {10 + i % 50}.{i % 97:02d},{20 + i % 31}.{i % 89:02d}" for i in range(300))
        question.write_text(f'This SVG path element <path d="M 5.00,5.00 {points}"/> draws a\n'
                            "Options:\n(A) circle\n(B) line\n(C) polygon\n", encoding="utf-8")
        extra = ["--translate-limit", "1"]
    else:
        pytest.fail(f"README row {label!r} has no test setup")
    return ["solve", str(question), *extra], question, marker


def message_pattern(message: str, question: Path) -> str:
    """Turn a README message into a regular expression: FILE is the question path; N, P, PATH and LINE stand for any value."""
    pattern = re.escape(message).replace("FILE", re.escape(str(question)))
    for placeholder in ("N", "P", "PATH", "LINE"):
        pattern = re.sub(rf"(?<![A-Za-z]){placeholder}(?![A-Za-z])", r"\\S+", pattern)
    return "^" + pattern + "$"


ROWS = readme_rows()


def test_readme_table_found():
    assert len(ROWS) >= 11


@pytest.mark.parametrize("label, codes, message", ROWS, ids=[row[0] for row in ROWS])
def test_hostile_input_row(tmp_path, label, codes, message):
    args, question, marker = setup(label, tmp_path)
    result = subprocess.run(REASON + args, capture_output=True, cwd=ROOT, timeout=600)
    allowed = {int(code) for code in re.findall(r"\d+", codes)}
    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode in allowed, stderr
    assert "Traceback" not in stderr
    if message.startswith("reason: error:"):
        lines = [line for line in stderr.splitlines() if line.strip()]
        assert len(lines) == 1, stderr
        assert re.match(message_pattern(message, question), lines[0]), lines[0]
        assert result.stdout == b""
    if marker is not None:
        assert not marker.exists(), "a #script block in the question was executed"

"""Teacher records: JSON Lines files that survive a crash mid-write.

Records are appended one line at a time and flushed; a file is rewritten only
through a temporary file and an atomic rename. A torn last line (a crash during
an append) is skipped with a warning when the file is read, never fatal.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Iterable

log = logging.getLogger("reasoner")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Read a JSON Lines file of objects, skipping (and logging) lines that are not one.

    Lines are decoded one at a time, so a line of stray bytes, such as a write
    torn in the middle of a character, costs that line only.
    """
    if not path.exists():
        return []
    records = []
    with path.open("rb") as stream:
        for number, raw in enumerate(stream, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                log.warning("%s:%d: skipped a line that is not valid JSON (torn write?)", path, number)
                continue
            if not isinstance(record, dict):
                log.warning("%s:%d: skipped a line that is not a JSON object", path, number)
                continue
            records.append(record)
    return records


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    """Append one record and flush it to disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"
    with path.open("a", encoding="utf-8") as stream:
        stream.write(line)
        stream.flush()
        os.fsync(stream.fileno())


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    """Replace a JSON Lines file atomically: readers see the old or the new file, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            for record in records:
                stream.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def records_version(directory: Path) -> str | None:
    """Return the git commit of the records in ``directory``, for a model card.

    The commit's short hash, followed by " with uncommitted changes" when the
    records differ from it; None outside a git checkout or without git.
    """
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=directory, capture_output=True,
                                text=True, check=True, timeout=10).stdout.strip()
        changes = subprocess.run(["git", "status", "--porcelain", "--", "."], cwd=directory, capture_output=True,
                                 text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit} with uncommitted changes" if changes else commit


def records_match(directory: Path, version: str | None, paths: tuple[str, ...] = (".",)) -> bool:
    """Return whether ``paths`` of ``directory`` hold what they held at ``version`` (from :func:`records_version`).

    False when either the version or the checkout now has uncommitted changes.
    """
    current = records_version(directory)
    if not version or not current or " " in version or " " in current:
        return False
    try:
        subprocess.run(["git", "diff", "--quiet", version, "--", *paths], cwd=directory, capture_output=True,
                       check=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return True

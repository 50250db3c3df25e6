"""The teacher: a chat-completions client with a content-addressed cache of every response.

Any OpenAI-compatible endpoint works: a hosted API, or a local vLLM, llama.cpp
or Ollama server. Settings come from a TOML file (``--teacher-config``) or from
the environment:

=========================  ====================================================
REASON_TEACHER_URL         base URL, for example ``http://127.0.0.1:8000/v1``
REASON_TEACHER_MODEL       model name sent with each request
REASON_TEACHER_API_KEY     bearer token (optional for local servers)
=========================  ====================================================

Requests time out after ``timeout`` seconds. Connection errors, HTTP 429 and
5xx are retried up to ``max_retries`` times with exponential backoff (honouring
``Retry-After``); other 4xx responses raise :class:`TeacherError` at once.

Every response is appended to a JSON Lines cache keyed by the SHA-256 of the
model, the prompt's SHA-256, the question's SHA-256 and the sampling
parameters, so a re-run with the same prompts makes no network call. The
verified annotations recorded in ``training/records/`` are keyed the same way
and answer from the cache too: offline and live runs share one code path.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import time
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from training.records import append_jsonl, read_jsonl

log = logging.getLogger("reasoner")

RETRY_STATUS = {429, 500, 502, 503, 504}


class TeacherError(RuntimeError):
    """The teacher endpoint rejected a request or stayed unreachable after every retry."""


@dataclass
class TeacherConfig:
    base_url: str = ""
    model: str = ""
    api_key: str | None = field(default=None, repr=False)
    timeout: float = 60.0
    max_retries: int = 4
    backoff: float = 1.0  # seconds before the first retry; doubles each time
    temperature: float = 0.0
    max_tokens: int = 2048

    @classmethod
    def load(cls, path: Path | None = None) -> "TeacherConfig":
        """Read settings from ``path`` (TOML), then let the environment override them."""
        values: dict[str, Any] = {}
        if path is not None:
            try:
                values = tomllib.loads(path.read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError) as error:
                raise TeacherError(f"cannot read the teacher config {path}: {error}") from None
        config = cls(**{k: v for k, v in values.items() if k in cls.__dataclass_fields__})
        config.base_url = os.environ.get("REASON_TEACHER_URL", config.base_url)
        config.model = os.environ.get("REASON_TEACHER_MODEL", config.model)
        config.api_key = os.environ.get("REASON_TEACHER_API_KEY", config.api_key)
        return config

    def parameters(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "max_tokens": self.max_tokens}


def cache_key(model: str, prompt_sha256: str, question_sha256: str, parameters: dict[str, Any]) -> str:
    payload = json.dumps(
        {"model": model, "prompt": prompt_sha256, "question": question_sha256, "parameters": parameters},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Reply:
    text: str
    cached: bool
    prompt_sha256: str
    model: str
    date: str | None  # ISO date (UTC) the teacher wrote the reply; None when the cache entry has no valid one


def utc_today() -> str:
    return datetime.now(timezone.utc).date().isoformat()


def entry_date(entry: dict[str, Any]) -> str | None:
    """Return the YYYY-MM-DD date (UTC) a cache entry was written, from ``date`` or ``time``.

    A value that is not a valid date or timestamp gives None, never an error:
    the date goes into provenance comments, and a hand-edited cache line must
    neither inject text there nor stop a run that does not need it.
    """
    value = entry.get("date")
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    stamp = entry.get("time")
    if isinstance(stamp, (int, float)) and not isinstance(stamp, bool) and math.isfinite(stamp):
        try:
            return datetime.fromtimestamp(stamp, timezone.utc).date().isoformat()
        except (OverflowError, OSError, ValueError):
            pass
    return None


class ResponseCache:
    """Append-only JSON Lines cache of teacher responses; a torn last line is skipped, not fatal."""

    def __init__(self, path: Path):
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}
        for entry in read_jsonl(path):
            if "key" in entry and "response" in entry:
                self.entries[entry["key"]] = entry

    def get(self, key: str) -> dict[str, Any] | None:
        return self.entries.get(key)

    def put(self, entry: dict[str, Any], persist: bool = True) -> None:
        self.entries[entry["key"]] = entry
        if persist:
            append_jsonl(self.path, entry)


class Teacher:
    """Ask the teacher model; answer from the cache when the same request was made before."""

    def __init__(self, config: TeacherConfig, cache: ResponseCache):
        self.config = config
        self.cache = cache
        self.calls = 0
        self.hits = 0

    def seed_from_records(self, records: list[dict[str, Any]]) -> int:
        """Make recorded annotations answer from the cache; return how many were added.

        A record stores the teacher, the prompt's SHA-256, the question's
        SHA-256 and the facts: enough to rebuild its cache key.
        """
        added = 0
        for record in records:
            key = cache_key(record["teacher"], record["prompt_sha256"], record["input_sha256"], self.config.parameters())
            if self.cache.get(key) is None:
                self.cache.put({"key": key, "model": record["teacher"], "prompt_sha256": record["prompt_sha256"],
                                "question_sha256": record["input_sha256"], "response": record["facts"],
                                "source": "record"}, persist=False)
                added += 1
        return added

    def is_cached(self, prompt: str, question: str, model: str | None = None) -> bool:
        """Return whether :meth:`ask` would answer from the cache, without a network call."""
        key = cache_key(model or self.config.model, sha256_text(prompt), sha256_text(question), self.config.parameters())
        return self.cache.get(key) is not None

    def ask(self, prompt: str, question: str, model: str | None = None) -> Reply:
        """Return the teacher's reply to ``question`` under the system ``prompt``."""
        model = model or self.config.model
        prompt_sha = sha256_text(prompt)
        key = cache_key(model, prompt_sha, sha256_text(question), self.config.parameters())
        entry = self.cache.get(key)
        if entry is not None:
            self.hits += 1
            return Reply(entry["response"], True, prompt_sha, model, entry_date(entry))
        text = self._request(prompt, question, model)
        self.calls += 1
        entry = {"key": key, "model": model, "prompt_sha256": prompt_sha,
                 "question_sha256": sha256_text(question), "response": text,
                 "parameters": self.config.parameters(), "time": time.time()}
        self.cache.put(entry)
        return Reply(text, False, prompt_sha, model, entry_date(entry))

    def _request(self, prompt: str, question: str, model: str) -> str:
        if not self.config.base_url:
            raise TeacherError("no teacher endpoint configured; set REASON_TEACHER_URL or pass --teacher-config")
        if not model:
            raise TeacherError("no teacher model configured; set REASON_TEACHER_MODEL or pass --teacher-config")
        body = json.dumps({
            "model": model,
            "messages": [{"role": "system", "content": prompt}, {"role": "user", "content": question}],
            **self.config.parameters(),
        }).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        url = self.config.base_url.rstrip("/") + "/chat/completions"

        delay = self.config.backoff
        for attempt in range(self.config.max_retries + 1):
            request = urllib.request.Request(url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.config.timeout) as response:
                    payload = json.loads(response.read().decode("utf-8"))
                return payload["choices"][0]["message"]["content"]
            except urllib.error.HTTPError as error:
                if error.code not in RETRY_STATUS:
                    detail = error.read().decode("utf-8", "replace")[:200]
                    raise TeacherError(f"the teacher at {url} rejected the request: HTTP {error.code}: {detail}") from None
                retry_after = error.headers.get("Retry-After")
                wait = float(retry_after) if retry_after and retry_after.isdigit() else delay
                reason = f"HTTP {error.code}"
            except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
                wait, reason = delay, f"{type(error).__name__}: {getattr(error, 'reason', error)}"
            except (KeyError, IndexError, json.JSONDecodeError) as error:
                raise TeacherError(f"the teacher at {url} sent a reply without a message: {error}") from None
            if attempt == self.config.max_retries:
                raise TeacherError(f"the teacher at {url} failed after {attempt + 1} attempts: {reason}")
            log.warning("teacher request failed (%s); retry %d of %d in %.1f s",
                        reason, attempt + 1, self.config.max_retries, wait)
            time.sleep(wait)
            delay *= 2
        raise AssertionError("unreachable")

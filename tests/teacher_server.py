"""A stand-in teacher for tests: an OpenAI-style chat-completions server on 127.0.0.1.

It replays recorded responses, keyed by the SHA-256 of the question (the user
message), and can fail its first requests with a chosen HTTP status to
exercise the client's retries.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ReplayTeacher:
    def __init__(self, responses: dict[str, str], fail_first: int = 0, fail_status: int = 503):
        self.responses = responses  # question SHA-256 -> response text
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.requests = 0
        self.answered = 0
        teacher = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                teacher.requests += 1
                if teacher.requests <= teacher.fail_first:
                    self._send(teacher.fail_status, {"error": "try again"}, {"Retry-After": "0"})
                    return
                question = body["messages"][-1]["content"]
                key = hashlib.sha256(question.encode("utf-8")).hexdigest()
                if key not in teacher.responses:
                    self._send(400, {"error": {"message": "no recorded response for this question"}})
                    return
                teacher.answered += 1
                self._send(200, {"choices": [{"message": {"role": "assistant", "content": teacher.responses[key]}}]})

            def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
                data = json.dumps(payload).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> "ReplayTeacher":
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()

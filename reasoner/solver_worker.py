"""The solver process: runs clingo (or SWI-Prolog) on requests read from standard input.

The parent process (:mod:`reasoner.solver`) starts this module with
``python -m reasoner.solver_worker`` and writes one JSON request per line; the
worker answers each with one JSON line. Grounding cannot be interrupted from
inside clingo, so the parent enforces the wall-clock limit by killing this
process. Solving is interrupted here, through ``solve(async_=True)``.

A request holds the rule files, the fact text (rendered by
:mod:`reasoner.facts`, never raw question text), the answer predicate, a time
limit in seconds and the maximum number of projected models to enumerate.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import clingo

from reasoner.symbols import symbol_value


def _solve_clingo(request: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    messages: list[str] = []

    def log(code: clingo.MessageCode, message: str) -> None:
        messages.append(message.strip())

    name, arity = request["answer"].split("/")
    arguments = ["--project=project", f"--models={int(request['max_models'])}"]
    control = clingo.Control(arguments, logger=log, message_limit=20)
    try:
        for path in request["files"]:
            control.load(path)
        control.add("base", [], request["facts"])
        control.add("base", [], f"#project {name}/{arity}.")
        control.ground([("base", [])])
    except RuntimeError as error:
        return {"status": "error", "message": "; ".join(messages) or str(error)}
    grounded = time.perf_counter()

    models: list[dict[str, Any]] = []

    def on_model(model: clingo.Model) -> None:
        # The Model handle is invalid after this callback returns: copy what we need now.
        shown = model.symbols(shown=True)
        if arity == "2":
            # A sequence answer: answer(K, V) atoms read in the order of K, joined by spaces.
            parts = sorted((s.arguments[0], symbol_value(s.arguments[1])) for s in shown
                           if s.name == name and len(s.arguments) == 2)
            answers = [" ".join(value for _, value in parts)] if parts else []
        else:
            answers = [symbol_value(s.arguments[0]) for s in shown if s.name == name and len(s.arguments) == 1]
        entry = {"answers": answers, "shown": [str(s) for s in shown]}
        if request.get("show_all") and not models:
            entry["atoms"] = [str(s) for s in model.symbols(atoms=True)]
        models.append(entry)

    remaining = max(0.0, request["time_limit"] - (grounded - started))
    with control.solve(on_model=on_model, async_=True) as handle:
        finished = handle.wait(remaining)
        if not finished:
            handle.cancel()
        result = handle.get()
    solved = time.perf_counter()
    return {
        "status": "ok",
        "models": models,
        "satisfiable": result.satisfiable,
        "exhausted": result.exhausted,
        "interrupted": not finished,
        "messages": messages,
        "times": {
            "ground": grounded - started,
            "solve": solved - grounded,
            "total": solved - started,
        },
    }


def _handle(request: dict[str, Any]) -> dict[str, Any]:
    engine = request.get("engine", "clingo")
    if engine == "clingo" and request.get("explain"):
        from reasoner.explain import solve_traced

        return solve_traced(request["files"], request["facts"], request["time_limit"])
    if engine == "clingo":
        return _solve_clingo(request)
    if engine == "prolog":
        from reasoner import prolog

        return prolog.explain_request(request) if request.get("explain") else prolog.solve_request(request)
    return {"status": "error", "message": f"unknown engine {engine!r}"}


def main() -> None:
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            reply = _handle(json.loads(line))
        except Exception as error:  # noqa: BLE001 - the worker must answer every request
            reply = {"status": "error", "message": f"{type(error).__name__}: {error}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()

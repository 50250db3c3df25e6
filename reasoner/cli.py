"""The ``reason`` command line.

Results go to standard output and logs to standard error. Exit codes:

====  ==========================================================================
0     the answer is verified: clingo (or Prolog) derived it from the facts
3     the answer is unverified: it comes from the student's chain of thought
4     no answer: neither the solver nor the fallback produced one
2     usage error: unknown option, missing file (click's own code)
65    invalid input: empty, binary, not UTF-8 or too large
69    the student model, its encoder or the rule packs are missing or unusable
70    internal error (a bug: please report it with the question)
1     a check failed (``reason rules check`` or ``reason rules test``)
====  ==========================================================================

``reason solve`` with several files exits with the code of the worst answer: 4
when one has no answer, else 3 when one is unverified, else 0.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import time
from pathlib import Path

import click

from reasoner import __version__
from reasoner.paths import DEFAULT_BBH_DIR, MODEL_DIR, RULES_DIR
from reasoner.question import InputError, decode_input

EXIT_VERIFIED = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_UNVERIFIED = 3
EXIT_NO_ANSWER = 4
EXIT_INVALID_INPUT = 65
EXIT_UNAVAILABLE = 69
EXIT_INTERNAL = 70

# Questions each `reason eval` worker answers together (--batch-size).
DEFAULT_EVAL_BATCH = 16

log = logging.getLogger("reasoner")


class ReasonError(click.ClickException):
    """A one-line error with its own exit code, printed as ``reason: error: MESSAGE``."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file=None) -> None:
        click.echo(f"reason: error: {self.format_message()}", err=True)


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("reason: %(levelname)s: %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False


@click.group(epilog="Exit codes: 0 verified answer, 3 unverified answer, 4 no answer, 2 usage error, "
                    "65 invalid input, 69 model or rules unavailable, 70 internal error, 1 failed check.")
@click.version_option(__version__, prog_name="reason")
@click.option("-v", "--verbose", count=True, help="Log more to standard error (-v info, -vv debug).")
def main(verbose: int) -> None:
    """reason: answer questions with a distilled student and an auditable rule base."""
    _setup_logging(verbose)


def read_question(path: str) -> str:
    """Read a question file ('-' is standard input) and decode it, or raise ReasonError."""
    source = "standard input" if path == "-" else path
    try:
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            file = Path(path)
            if file.is_dir():
                raise ReasonError(f"{path} is a directory, not a question file", EXIT_INVALID_INPUT)
            data = file.read_bytes()
    except FileNotFoundError:
        raise ReasonError(f"question file not found: {path}", EXIT_USAGE) from None
    except PermissionError:
        raise ReasonError(f"cannot read {path}: permission denied", EXIT_INVALID_INPUT) from None
    try:
        return decode_input(data, source)
    except InputError as error:
        raise ReasonError(str(error), EXIT_INVALID_INPUT) from None


def load_reasoner(model: Path, base_model: Path | None, rules: Path, time_limit: float, allow_script: bool,
                  translate_limit: float):
    from reasoner.packs import PackError, load_packs
    from reasoner.rulebase import forbidden_statements
    from reasoner.solver import Solver

    try:
        packs = load_packs(rules)
    except PackError as error:
        raise ReasonError(str(error), EXIT_UNAVAILABLE) from None
    if not allow_script:
        for pack in packs.values():
            if pack.engine == "clingo":
                for path in pack.rule_files:
                    found = forbidden_statements(path)
                    if found:
                        raise ReasonError(
                            f"refusing to run pack {pack.name}: {found[0]}; pass --allow-script to run it anyway",
                            EXIT_UNAVAILABLE,
                        )
    # The solver process starts first, so that it boots while torch and the student load.
    solver = Solver()
    solver.start()
    try:
        from reasoner.pipeline import Reasoner
        from reasoner.student import ModelError, StudentModel
        from reasoner.student.encoder import EncoderError

        try:
            student = StudentModel.load(model, base_model, rules)
        except (ModelError, EncoderError) as error:
            raise ReasonError(str(error), EXIT_UNAVAILABLE) from None
        return Reasoner(student, rules_dir=rules, time_limit=time_limit, translate_limit=translate_limit,
                        solver=solver)
    except BaseException:
        solver.close()
        raise


def answer_json(answer, source: str, packs: dict) -> dict:
    """Return the JSON report of an answer, shaped like clingo's ``--outf=2`` where it applies."""
    import clingo

    result = answer.solve_result
    witnesses = [{"Value": model} for model in (result.models if result else [])]
    if result is None:
        clingo_result = "UNKNOWN"
    elif result.outcome.value == "unsatisfiable":
        clingo_result = "UNSATISFIABLE"
    else:
        clingo_result = "SATISFIABLE"
    prolog = answer.pack in packs and packs[answer.pack].engine == "prolog"
    report = {
        "Solver": f"reason {__version__} ({'SWI-Prolog' if prolog else f'clingo {clingo.__version__}'})",
        "Input": [source],
        "Call": [{"Witnesses": witnesses}],
        "Result": clingo_result,
        "Models": {"Number": len(witnesses), "More": "no" if result and result.exhausted else "unknown"},
        "Time": {
            "Total": round(answer.times.get("total", 0.0), 4),
            "Solve": round(answer.times.get("solve", 0.0), 4),
            "Translate": round(answer.times.get("translate", 0.0), 4),
            "Encode": round(answer.times.get("encode", 0.0), 4),
            "Fallback": round(answer.times.get("fallback", 0.0), 4),
        },
        "Answer": answer.answer,
        "Verified": answer.verified,
        "Route": answer.route,
        "Pack": answer.pack,
        "Facts": answer.facts,
        "Candidates": [
            {"Pack": a.pack, "Score": round(a.score, 4), "Outcome": a.outcome, "Message": a.message, "Facts": a.facts}
            for a in answer.attempts
        ],
        "Rationale": answer.rationale,
        "TranslationTimedOut": answer.translation_timed_out,
    }
    if answer.derivation is not None:
        from reasoner.explain import tree_to_json

        report["Derivation"] = tree_to_json(answer.derivation)
    if answer.verified:
        report["Rules"] = packs[answer.pack].rule_hashes()
    return report


def write_program(answer, directory: Path, pack) -> Path:
    """Write the facts and the pack's rule files so that plain clingo (or swipl) reproduces the answer."""
    from reasoner.facts import parse_facts

    directory.mkdir(parents=True, exist_ok=True)
    names = []
    for path in pack.rule_files:
        shutil.copyfile(path, directory / path.name)
        names.append(path.name)
    if pack.engine == "prolog":
        # The facts keep the translation's order, so one input's clauses may be apart.
        inputs = ", ".join(f"{name}/{len(types)}" for name, types in sorted(pack.inputs.items()))
        facts = f":- discontiguous {inputs}.\n" + "".join(
            fact.render_prolog() + "\n" for fact in parse_facts(answer.facts))
        (directory / "facts.pl").write_text(facts, encoding="utf-8")
        command = f'swipl -q -g "forall(answer(X), (writeq(answer(X)), nl)), halt" {" ".join(names)} facts.pl'
        where = ""
    else:
        (directory / "facts.lp").write_text(answer.facts, encoding="utf-8")
        command = f"python -m clingo {' '.join(names)} facts.lp -n 0 --project=show"
        where = f"where python is an interpreter with the clingo package (reason used {sys.executable}).\n"
    if pack.answer_predicate.endswith("/2"):
        reading = "The solver prints the atoms answer(I, X); the values X in the order of I form the answer.\n"
    else:
        reading = f"The solver prints the atom {pack.answer_predicate}; its value, or the option it names, is the answer.\n"
    if pack.unsatisfiable_answer:
        reading += (f"When the solver reports UNSATISFIABLE, no counter-model exists and the answer is "
                    f"{pack.unsatisfiable_answer}.\n")
    (directory / "README.txt").write_text(
        f"Answer {answer.answer} of pack {pack.name}, reproduced without reason by:\n\n    {command}\n\n{where}{reading}",
        encoding="utf-8",
    )
    return directory


@main.command()
@click.argument("question_files", metavar="FILE...", nargs=-1, required=True)
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Output format.")
@click.option("--pack", default=None, help="Use this rule pack instead of the router's choice.")
@click.option("--model", type=click.Path(path_type=Path), default=MODEL_DIR, show_default=True,
              help="Directory of the trained student.")
@click.option("--base-model", type=click.Path(path_type=Path), default=None,
              help="Local checkpoint directory of the pretrained encoder (default: the packaged all-MiniLM-L6-v2).")
@click.option("--rules", type=click.Path(path_type=Path), default=RULES_DIR, show_default=True,
              help="Folder of rule packs.")
@click.option("--time-limit", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Wall-clock limit in seconds for grounding and solving one candidate.")
@click.option("--translate-limit", type=click.FloatRange(min=0.0), default=30.0, show_default=True,
              help="Wall-clock limit in seconds for translating the question; past it, the fallback gives the answer.")
@click.option("--explain", "explain_answer", is_flag=True,
              help="Show the derivation of a verified answer: each derived atom with its rule (file:line).")
@click.option("--emit-program", type=click.Path(path_type=Path), default=None,
              help="Write the facts and rule files of a verified answer into this directory (one FILE only).")
@click.option("--batch-size", type=click.IntRange(min=1), default=DEFAULT_EVAL_BATCH, show_default=True,
              help="With several files: questions answered together.")
@click.option("--allow-script", is_flag=True, help="Run rule packs that contain #script or #include.")
def solve(question_files: tuple[str, ...], output_format: str, pack: str | None, model: Path, base_model: Path | None,
          rules: Path, time_limit: float, translate_limit: float, explain_answer: bool, emit_program: Path | None,
          batch_size: int, allow_script: bool) -> None:
    """Answer the question in each FILE ('-' reads standard input).

    With several files, every file is read before any is answered, answers are
    printed in the order of the files, and the exit code is that of the worst
    answer: 4 when one has no answer, else 3 when one is unverified, else 0.
    """
    if question_files.count("-") > 1:
        raise ReasonError("standard input ('-') can be read only once; pass it as one FILE", EXIT_USAGE)
    if emit_program is not None and len(question_files) > 1:
        raise ReasonError("--emit-program writes the program of one answer; pass one FILE with it", EXIT_USAGE)
    texts = [read_question(path) for path in question_files]
    if emit_program is not None and emit_program.exists() and not emit_program.is_dir():
        raise ReasonError(f"--emit-program {emit_program} is a file; pass a folder to write the program into",
                          EXIT_USAGE)
    reasoner = load_reasoner(model, base_model, rules, time_limit, allow_script, translate_limit)
    several = len(texts) > 1
    answers = []
    try:
        if pack is not None and pack not in reasoner.student.space.packs:
            known = ", ".join(sorted(reasoner.student.space.packs))
            if pack in reasoner.packs:
                raise ReasonError(f"the student was not trained for the pack {pack!r}, so train one with "
                                  f"`reason train`. It translates for: {known}", EXIT_USAGE)
            raise ReasonError(f"unknown pack {pack!r}; the student translates for: {known}", EXIT_USAGE)
        if several and output_format == "json":
            click.echo("[")
        # Each batch is printed before the next is answered, so a long run shows its answers as they come.
        for start in range(0, len(texts), batch_size):
            batch = reasoner.answer_many(texts[start:start + batch_size], pack=pack, explain_answer=explain_answer)
            for number, answer in enumerate(batch, start):
                if output_format == "json":
                    report = json.dumps(answer_json(answer, question_files[number], reasoner.packs),
                                        ensure_ascii=False, indent=2)
                    separator = "," if several and number < len(texts) - 1 else ""
                    click.echo(report + separator)
                else:
                    if several and number > 0:
                        click.echo()
                    if several:
                        click.echo(f"==> {question_files[number]} <==")
                    _print_text(answer, rules, reasoner.packs)
            answers += batch
        if several and output_format == "json":
            click.echo("]")
    finally:
        reasoner.close()

    if emit_program is not None:
        answer = answers[0]
        if answer.verified:
            try:
                write_program(answer, emit_program, reasoner.packs[answer.pack])
            except OSError as error:
                raise ReasonError(f"cannot write the program to {emit_program}: {error.strerror or error}; "
                                  "pass --emit-program a folder that can be created or written", EXIT_USAGE) from None
            log.info("wrote the program to %s", emit_program)
        else:
            log.warning("no program written: the answer is not verified")
    if any(answer.answer is None for answer in answers):
        sys.exit(EXIT_NO_ANSWER)
    sys.exit(EXIT_VERIFIED if all(answer.verified for answer in answers) else EXIT_UNVERIFIED)


def _print_text(answer, rules: Path, packs: dict) -> None:
    if answer.answer is None:
        click.echo("no answer")
    else:
        click.echo(answer.answer)
    if answer.verified:
        engine = "SWI-Prolog" if packs[answer.pack].engine == "prolog" else "clingo"
        click.echo(f"verified: {engine} derived it with the {answer.pack} pack from these facts:")
        for line in answer.facts.strip().split("\n"):
            click.echo(f"  {line}")
        if answer.derivation is not None:
            from reasoner.explain import render_tree

            click.echo("derivation:")
            for line in render_tree(answer.derivation, str(rules.resolve().parent) + "/").split("\n"):
                click.echo(f"  {line}")
    else:
        if answer.translation_timed_out:
            click.echo("unverified: translating the question reached the --translate-limit; "
                       "this is the student's chain of thought:")
        else:
            click.echo("unverified: no translation was verified by the solver; this is the student's chain of thought:")
        if answer.rationale:
            click.echo(f"  {answer.rationale}")


@main.command(name="eval")
@click.option("--split", type=click.Choice(["train", "test"]), default="test", show_default=True,
              help="Which side of the fixed BBH split to evaluate.")
@click.option("--subtasks", default="packed", show_default=True,
              help="Comma-separated subtasks, 'packed' (those a pack serves) or 'all'.")
@click.option("--data", type=click.Path(path_type=Path), default=DEFAULT_BBH_DIR, show_default=True,
              help="Folder of the BIG-Bench-Hard clone.")
@click.option("--model", type=click.Path(path_type=Path), default=MODEL_DIR, show_default=True,
              help="Directory of the trained student.")
@click.option("--base-model", type=click.Path(path_type=Path), default=None, help="Encoder checkpoint directory.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes, each with its own student and solver.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Evaluate at most this many questions per subtask.")
@click.option("--time-limit", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds per candidate for grounding and solving.")
@click.option("--output", type=click.Path(path_type=Path), default=Path("runs/eval"), show_default=True,
              help="Directory for report.md, report.json and accuracy.png.")
@click.option("--no-solver", is_flag=True,
              help="Answer every question with the chain of thought alone: the neural-only baseline.")
@click.option("--batch-size", type=click.IntRange(min=1), default=DEFAULT_EVAL_BATCH, show_default=True,
              help="Questions each worker answers together; their translations and chains of thought share "
                   "model calls. "
                   "Raises throughput, but a question's latency then counts from the start of its batch, and "
                   "the translation time limit bounds the batch's decoding: use 1 to measure single questions.")
def evaluate_command(split: str, subtasks: str, data: Path, model: Path, base_model: Path | None, workers: int,
                     limit: int | None, time_limit: float, output: Path, no_solver: bool, batch_size: int) -> None:
    """Evaluate on BBH and print accuracy per subtask with the route breakdown."""
    from tqdm import tqdm

    from reasoner.anchors import CODE_DAVINCI_002_COT
    from reasoner.bbh import BBH, SUBTASKS, DataError
    from reasoner.evaluate import evaluate, markdown_table, save_json, write_chart
    from reasoner.packs import load_packs

    try:
        bbh = BBH(data)
    except DataError as error:
        raise ReasonError(str(error), EXIT_UNAVAILABLE) from None
    if subtasks == "all":
        names = list(SUBTASKS)
    elif subtasks == "packed":
        names = [s for s in SUBTASKS if any(s in p.subtasks for p in load_packs(RULES_DIR).values())]
    else:
        names = [s.strip() for s in subtasks.split(",") if s.strip()]
        unknown = [s for s in names if s not in SUBTASKS]
        if unknown:
            raise click.UsageError(f"unknown subtasks: {', '.join(unknown)}")
    examples = []
    for name in names:
        examples += bbh.split(name, split)[:limit]

    bar = tqdm(total=len(examples), desc=f"eval {split}", unit="q", file=sys.stderr)
    correct = 0

    def progress(result) -> None:
        nonlocal correct
        correct += result.correct
        bar.update(1)
        bar.set_postfix(accuracy=f"{correct / bar.n:.3f}")

    options = {"model": model, "base_model": base_model, "time_limit": time_limit, "use_solver": not no_solver}
    report = evaluate(examples, options, workers, progress, batch_size)
    bar.close()
    report.split = split
    table = markdown_table(report, CODE_DAVINCI_002_COT)
    output.mkdir(parents=True, exist_ok=True)
    (output / "report.md").write_text(table, encoding="utf-8")
    save_json(report, output / "report.json")
    write_chart(report, output / "accuracy.png", CODE_DAVINCI_002_COT)
    click.echo(table)
    click.echo(
        f"mean accuracy {100 * report.mean_accuracy:.1f} % | solver route {100 * report.solver_share:.1f} % | "
        f"latency p50 {report.latency_p50_ms:.0f} ms, p95 {report.latency_p95_ms:.0f} ms | "
        f"{report.throughput_qps:.1f} questions/s with {workers} worker(s), batches of {batch_size} | "
        f"peak memory {report.peak_memory_mb:.0f} MB"
    )
    click.echo(f"wrote {output / 'report.md'}, {output / 'report.json'} and {output / 'accuracy.png'}")


@main.command()
@click.option("--output", type=click.Path(path_type=Path), default=MODEL_DIR, show_default=True,
              help="Directory to save the student in.")
@click.option("--data", type=click.Path(path_type=Path), default=DEFAULT_BBH_DIR, show_default=True,
              help="Folder of the BIG-Bench-Hard clone (its train split is used).")
@click.option("--base-model", type=click.Path(path_type=Path), default=None, help="Encoder checkpoint directory.")
@click.option("--steps", type=click.IntRange(min=1), default=2500, show_default=True, help="Optimizer steps.")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True, help="Questions per step.")
@click.option("--seed", default=0, show_default=True, help="Random seed.")
@click.option("--augment", "augment_copies", type=click.IntRange(min=0), default=4, show_default=True,
              help="Augmented copies of each annotated question.")
@click.option("--max-examples", type=click.IntRange(min=1), default=None,
              help="Use at most this many annotated questions (for quick runs).")
@click.option("--d-model", type=click.IntRange(min=16), default=None, help="Width of the decoder.")
@click.option("--layers", type=click.IntRange(min=1), default=None, help="Decoder layers.")
@click.option("--part", type=click.Choice(["both", "translator", "rationale"]), default="both", show_default=True,
              help="Train the translator (with its router), the fallback's rationale model, or both.")
@click.option("--rationale-steps", type=click.IntRange(min=1), default=1200, show_default=True,
              help="Optimizer steps of the rationale model.")
@click.option("--annotated-fraction", type=click.FloatRange(0.0, 1.0), default=1.0, show_default=True,
              help="Share of the recorded annotations of each subtask to train on.")
@click.option("--synthetic/--no-synthetic", default=True, show_default=True,
              help="Also train on the teacher-written questions.")
@click.option("--cotrain", "cotrain_rounds", type=click.IntRange(min=0), default=0, show_default=True,
              help="Rounds of co-training on solver feedback after the first training.")
@click.option("--cotrain-samples", type=click.IntRange(min=1), default=8, show_default=True,
              help="Candidate translations tried per unannotated question in each round.")
@click.option("--cotrain-judge", type=click.Choice(["first", "any", "confident", "siblings"]), default="first",
              show_default=True,
              help="With --cotrain: keep a question when the first candidate the solver solves gives the "
                   "gold answer (first), when any candidate does (any), or as first when the student is "
                   "confident or the other candidates mostly answer otherwise (confident); siblings also "
                   "checks the scene against the other questions with the same stem.")
@click.option("--eval-limit", type=click.IntRange(min=1), default=None,
              help="With --cotrain: test questions per subtask measured after each round (default: all).")
@click.option("--cotrain-relabel", is_flag=True,
              help="With --cotrain: translate every unannotated question again each round; a verified "
                   "translation replaces the earlier target.")
@click.option("--ask-teacher", is_flag=True,
              help="With --cotrain: after the last round, ask the teacher about the questions still "
                   "unverified, keep its answers that the solver verifies, and train once more.")
@click.option("--teacher-config", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
              help="With --ask-teacher: TOML file with base_url, model, api_key (the environment overrides it).")
@click.option("--teacher-cache", type=click.Path(path_type=Path), default=Path(".cache/teacher.jsonl"),
              show_default=True, help="With --ask-teacher: JSON Lines cache of teacher responses.")
@click.option("--teacher-budget", type=click.IntRange(min=0), default=None,
              help="With --ask-teacher: most teacher calls to make. Cached responses and failed "
                   "requests do not count.")
def train(output: Path, data: Path, base_model: Path | None, steps: int, batch_size: int, seed: int,
          augment_copies: int, max_examples: int | None, d_model: int | None, layers: int | None, part: str,
          rationale_steps: int, annotated_fraction: float, synthetic: bool, cotrain_rounds: int,
          cotrain_samples: int, cotrain_judge: str, eval_limit: int | None, cotrain_relabel: bool,
          ask_teacher: bool, teacher_config: Path | None, teacher_cache: Path, teacher_budget: int | None) -> None:
    """Train the student on the recorded, verified teacher annotations."""
    from dataclasses import replace

    _require_options(click.get_current_context(), {
        "--cotrain ROUNDS of at least 1": (cotrain_rounds > 0, ["cotrain_samples", "cotrain_judge", "eval_limit",
                                                                "cotrain_relabel", "ask_teacher"]),
        "--ask-teacher": (ask_teacher, ["teacher_config", "teacher_cache", "teacher_budget"]),
        "--part both or translator": (part != "rationale", ["steps"]),
        "--part both or rationale": (part != "translator", ["rationale_steps"]),
    })
    if cotrain_rounds and part == "rationale":
        raise click.UsageError("--cotrain trains the translator, so it cannot be used with --part rationale")

    from tqdm import tqdm

    from training.train import TrainConfig, train as run_training
    from training.train_rationale import train_rationale

    sizes = {}
    if d_model:
        sizes.update(d_model=d_model, ff_dim=4 * d_model)
    if layers:
        sizes["decoder_layers"] = layers
    config = TrainConfig(output=output, data=data, base_model=base_model, steps=steps, batch_size=batch_size,
                         seed=seed, augment_copies=augment_copies, max_examples=max_examples, sizes=sizes,
                         annotated_fraction=annotated_fraction, synthetic=synthetic)

    def progress_factory(total: int):
        return tqdm(total=total, desc="encoding questions", unit="q", file=sys.stderr)

    def echo(line: str) -> None:
        click.echo(line, err=True)

    if part in ("both", "translator") and cotrain_rounds:
        from reasoner.bbh import BBH, DataError
        from reasoner.evaluate import mean_accuracy
        from training.cotrain import cotrain, live_teacher

        # The teacher and the test split are set up before the first training, so that a bad setting fails at once.
        teacher = None
        if ask_teacher:
            teacher = open_teacher(teacher_config, teacher_cache, "--teacher-cache", require_endpoint=True)
        packed = [s for p in load_packs_or_fail(RULES_DIR).values() for s in p.subtasks]
        try:
            bbh = BBH(data)
            test = [e for name in packed for e in bbh.split(name, "test")[:eval_limit]]
        except DataError as error:
            raise ReasonError(f"{error}; co-training measures every packed subtask's test split", EXIT_UNAVAILABLE) from None
        cotrain(config, cotrain_rounds, cotrain_samples, echo, lambda student: mean_accuracy(student, test),
                progress_factory, cotrain_judge, cotrain_relabel,
                teacher=live_teacher(teacher, teacher_budget, echo) if teacher else None)
        if teacher:
            echo(f"teacher calls {teacher.calls}, cache hits {teacher.hits}")
    elif part in ("both", "translator"):
        run_training(config, progress_factory, echo=echo)
    if part in ("both", "rationale"):
        train_rationale(replace(config, steps=rationale_steps, batch_size=min(batch_size, 16)), echo, progress_factory)


def _require_options(context: click.Context, requirements: dict[str, tuple[bool, list[str]]]) -> None:
    """Raise a usage error for an option given on the command line whose required option is absent.

    ``requirements`` maps the required option's name to whether it is set and to the
    parameters that take effect only with it. An ignored option would let a user
    believe that a run did what it did not.
    """
    for required, (present, dependents) in requirements.items():
        if present:
            continue
        for name in dependents:
            if context.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE:
                option = next(p for p in context.command.params if p.name == name).opts[0]
                raise click.UsageError(f"{option} requires {required}")


def open_teacher(config_path: Path | None, cache: Path, cache_option: str, require_endpoint: bool = False,
                 seed_annotations: bool = True):
    """Return the configured teacher behind its response cache, seeded with the recorded annotations.

    A record answers from the cache only when it was made with the current prompt
    file of its pack; the others would become live calls. ``require_endpoint``
    fails at once when no endpoint is configured, before hours of training.
    Without ``seed_annotations`` the cache contains only what it read from ``cache``.
    """
    from reasoner.bbh import SUBTASKS
    from training.annotate import record_path
    from training.records import read_jsonl
    from training.teacher import ResponseCache, Teacher, TeacherConfig, TeacherError

    try:
        config = TeacherConfig.load(config_path)
    except TeacherError as error:
        raise ReasonError(str(error), EXIT_UNAVAILABLE) from None
    if require_endpoint and not (config.base_url and config.model):
        raise ReasonError("no teacher endpoint configured; set REASON_TEACHER_URL and REASON_TEACHER_MODEL "
                          "or pass --teacher-config", EXIT_UNAVAILABLE)
    try:
        teacher = Teacher(config, ResponseCache(cache))
    except OSError as error:
        raise ReasonError(f"cannot read the teacher cache {cache}: {error.strerror or error}; "
                          f"pass {cache_option} a JSON Lines file", EXIT_USAGE) from None
    if seed_annotations:
        for subtask in SUBTASKS:
            teacher.seed_from_records(read_jsonl(record_path(subtask)))
    return teacher


@main.command()
@click.option("--subtasks", default="packed", show_default=True,
              help="Comma-separated subtasks, or 'packed' for those a pack serves.")
@click.option("--data", type=click.Path(path_type=Path), default=DEFAULT_BBH_DIR, show_default=True,
              help="Folder of the BIG-Bench-Hard clone (its train split is annotated).")
@click.option("--teacher-config", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
              help="TOML file with base_url, model, api_key, timeout, max_retries (the environment overrides it).")
@click.option("--cache", type=click.Path(path_type=Path), default=Path(".cache/teacher.jsonl"), show_default=True,
              help="JSON Lines cache of teacher responses.")
@click.option("--budget", type=click.IntRange(min=0), default=None,
              help="Most teacher calls to make. Cached responses and failed requests do not count.")
def distill(subtasks: str, data: Path, teacher_config: Path | None, cache: Path, budget: int | None) -> None:
    """Have the teacher annotate training questions; keep the annotations clingo verifies."""
    from reasoner.bbh import BBH, DataError
    from reasoner.packs import load_packs
    from reasoner.solver import Solver
    from training.distill import distill as run_distill

    try:
        bbh = BBH(data)
    except DataError as error:
        raise ReasonError(str(error), EXIT_UNAVAILABLE) from None
    packed = [s for p in load_packs(RULES_DIR).values() for s in p.subtasks]
    names = packed if subtasks == "packed" else [s.strip() for s in subtasks.split(",") if s.strip()]
    teacher = open_teacher(teacher_config, cache, "--cache")
    with Solver() as solver:
        report = run_distill(bbh, names, teacher, solver, budget, echo=lambda line: click.echo(line, err=True))
    click.echo(f"teacher calls {report.calls}, cache hits {report.cache_hits}, "
               f"verified {report.verified} of {report.asked} ({100 * report.verified_yield:.1f} %)"
               + (f", {report.skipped_for_budget} left for a larger budget" if report.skipped_for_budget else ""))


@main.group()
def rules() -> None:
    """Check, test and document the rule packs."""


def load_packs_or_fail(rules_dir: Path):
    from reasoner.packs import PackError, load_packs

    try:
        return load_packs(rules_dir)
    except PackError as error:
        raise ReasonError(str(error), EXIT_UNAVAILABLE) from None


def _packs(rules_dir: Path, name: str | None):
    packs = load_packs_or_fail(rules_dir)
    if name is None:
        return list(packs.values())
    if name not in packs:
        raise click.UsageError(f"unknown pack {name!r}; packs: {', '.join(sorted(packs))}")
    return [packs[name]]


@rules.command()
@click.argument("pack", required=False)
@click.option("--rules", "rules_dir", type=click.Path(path_type=Path), default=RULES_DIR, show_default=True)
def check(pack: str | None, rules_dir: Path) -> None:
    """Check that every pack (or PACK) is well formed and safe to run."""
    from reasoner.rulebase import check_pack

    failed = False
    for item in _packs(rules_dir, pack):
        problems = check_pack(item)
        for problem in problems:
            click.echo(f"FAIL {problem}")
        if not problems:
            click.echo(f"ok   {item.name}")
        failed |= bool(problems)
    sys.exit(EXIT_CHECK_FAILED if failed else 0)


@rules.command(name="test")
@click.argument("pack", required=False)
@click.option("--rules", "rules_dir", type=click.Path(path_type=Path), default=RULES_DIR, show_default=True)
def test_rules(pack: str | None, rules_dir: Path) -> None:
    """Run the regression cases of every pack (or PACK)."""
    from reasoner.rulebase import run_cases
    from reasoner.solver import Solver

    failures = 0
    total = 0
    started = time.perf_counter()
    with Solver() as solver:
        for item in _packs(rules_dir, pack):
            for result in run_cases(item, solver):
                total += 1
                if result.passed:
                    click.echo(f"ok   {result.pack}/{result.case}: {result.actual}")
                else:
                    failures += 1
                    click.echo(f"FAIL {result.pack}/{result.case}")
                    click.echo(f"  - expected: {result.expected}")
                    click.echo(f"  + actual:   {result.actual}" + (f"  ({result.message})" if result.message else ""))
    click.echo(f"{total - failures} passed, {failures} failed in {time.perf_counter() - started:.2f} s")
    sys.exit(EXIT_CHECK_FAILED if failures else 0)


@rules.command()
@click.argument("pack")
@click.option("--rules", "rules_dir", type=click.Path(path_type=Path), default=RULES_DIR, show_default=True)
@click.option("--data", type=click.Path(path_type=Path), default=DEFAULT_BBH_DIR, show_default=True,
              help="Folder of the BIG-Bench-Hard clone (its annotated train split is the test bed).")
@click.option("--teacher-config", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
              help="TOML file with base_url, model, api_key, timeout, max_retries (the environment overrides it).")
@click.option("--cache", type=click.Path(path_type=Path), default=Path(".cache/teacher.jsonl"), show_default=True,
              help="JSON Lines cache of teacher responses.")
@click.option("--rounds", type=click.IntRange(min=1), default=3, show_default=True,
              help="Maximum number of proposal rounds; each later round sends the questions still failing, "
                   "and a rejected proposal ends the run.")
def learn(pack: str, rules_dir: Path, data: Path, teacher_config: Path | None, cache: Path, rounds: int) -> None:
    """Ask the teacher for rules that fix the training questions PACK fails; admit only safe gains."""
    from reasoner.bbh import BBH, DataError
    from reasoner.solver import Solver
    from training.rulelearn import learn_rules_rounds, training_cases
    from training.teacher import TeacherError

    (item,) = _packs(rules_dir, pack)
    try:
        bbh = BBH(data)
    except DataError:
        bbh = None
        log.warning("no BBH clone at %s: using the teacher-written questions only", data)
    # Rule proposals use their own prompt, so no annotation record matches them.
    teacher = open_teacher(teacher_config, cache, "--cache", seed_annotations=False)
    try:
        with Solver() as solver:
            decisions = learn_rules_rounds(item, training_cases(item, bbh), teacher, solver, rounds,
                                           echo=lambda line: click.echo(line))
    except TeacherError as error:
        raise ReasonError(str(error), EXIT_UNAVAILABLE) from None
    sys.exit(EXIT_CHECK_FAILED if decisions and not any(d.admitted for d in decisions) else 0)


@rules.command()
@click.option("--rules", "rules_dir", type=click.Path(path_type=Path), default=RULES_DIR, show_default=True)
@click.option("--output", type=click.Path(path_type=Path), default=Path("docs/rules"), show_default=True,
              help="Directory for one Markdown page per pack.")
def doc(rules_dir: Path, output: Path) -> None:
    """Write a Markdown page per pack: purpose, inputs, rule groups, provenance, cases."""
    from reasoner.rulebase import pack_doc

    output.mkdir(parents=True, exist_ok=True)
    for item in _packs(rules_dir, None):
        path = output / f"{item.name}.md"
        path.write_text(pack_doc(item), encoding="utf-8")
        click.echo(f"wrote {path}")


def run() -> None:
    """Entry point of the console script: turns unexpected exceptions into exit code 70."""
    try:
        main(standalone_mode=True)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        click.echo("reason: interrupted", err=True)
        sys.exit(130)
    except Exception as error:  # noqa: BLE001 - last resort: one line, not a traceback
        hint = "" if log.isEnabledFor(logging.DEBUG) else " (run with -vv for details)"
        click.echo(f"reason: internal error: {type(error).__name__}: {error}{hint}", err=True)
        log.debug("internal error", exc_info=True)
        sys.exit(EXIT_INTERNAL)


if __name__ == "__main__":
    run()

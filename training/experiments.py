"""The co-training experiment: a quarter of the teacher's annotations plus solver feedback, against all of them.

``python -m training.experiments --fraction 0.25 --rounds 2 --steps 800`` trains

* the *full* arm on every recorded annotation of the first five packs' nine
  subtasks, and
* the *co-training* arm on ``fraction`` of them, then ``rounds`` rounds of
  co-training on the rest of the training questions (gold answers only),

neither with teacher-written questions, and measures both on the test split of
the nine subtasks. Every student (the full arm, and the co-training arm's
student of each round, in ``round-N``) that a killed run already saved from the
same settings, code and training records is loaded instead of trained again. It writes
``runs/cotrain/report.json`` with the accuracies, the teacher calls each arm
used and the per-round reports. Each round also
counts, per subtask, the co-training targets that are identical to the teacher
annotation the arm withheld (training questions only), which measures how often
a translation reached the gold answer for a wrong reason.

With ``--ask-teacher``, the questions that no round verified go to the teacher
after the last round (see :mod:`training.cotrain`), and a last round trains on
its verified answers too. The teacher's answers are its recorded annotations of
those questions, the same responses the full arm trains on. Each question asked
counts as one teacher call, so the arm's teacher calls are its share of
annotations plus the questions asked.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, replace
from pathlib import Path

from reasoner.bbh import BBH
from reasoner.evaluate import evaluate_in_process
from reasoner.facts import parse_facts, render_facts
from training.annotate import record_path
from training.cotrain import JUDGE_POLICIES, cotrain
from reasoner.paths import ROOT
from reasoner.student import StudentModel
from training.records import read_jsonl, records_match
from training.train import TrainConfig, config_fingerprint, train

# The inputs of a training run besides its configuration: code, rules, grammar and records. The
# co-training loop and this experiment reach a training run only through its configuration, and its
# fingerprint covers the co-training targets. The experiment does not go through the command line,
# and the benchmark page only reads its report. So a change to these four files alone keeps the saved
# students.
TRAINING_INPUTS = ("reasoner", "training", "rules", "grammars", ":(exclude)reasoner/cli.py",
                   ":(exclude)training/cotrain.py", ":(exclude)training/experiments.py",
                   ":(exclude)reasoner/benchmarks.py")

FIRST_FIVE_SUBTASKS = [
    "logical_deduction_three_objects", "logical_deduction_five_objects", "logical_deduction_seven_objects",
    "tracking_shuffled_objects_three_objects", "tracking_shuffled_objects_five_objects",
    "tracking_shuffled_objects_seven_objects", "web_of_lies", "boolean_expressions", "navigate",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fraction", type=float, default=0.25, help="share of annotations in the co-training arm")
    parser.add_argument("--rounds", type=int, default=2, help="co-training rounds")
    parser.add_argument("--steps", type=int, default=800, help="optimizer steps per training")
    parser.add_argument("--output", type=Path, default=Path("runs/cotrain"), help="folder for models and report")
    parser.add_argument("--judge", choices=JUDGE_POLICIES, default="first",
                        help="co-training judge policy: first, any or confident (see training.cotrain)")
    parser.add_argument("--relabel", action="store_true",
                        help="translate every unannotated question again each round (see training.cotrain)")
    parser.add_argument("--eval-limit", type=int, default=None, help="test questions per subtask (default: all)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of both arms: initial weights, batches and the annotations the co-training arm keeps")
    parser.add_argument("--ask-teacher", action="store_true",
                        help="after the last round, ask the teacher about the questions still unverified")
    arguments = parser.parse_args()

    bbh = BBH()
    test = [e for name in FIRST_FIVE_SUBTASKS for e in bbh.split(name, "test")[: arguments.eval_limit]]
    annotations = sum(len(read_jsonl(record_path(name))) for name in FIRST_FIVE_SUBTASKS)
    base = TrainConfig(output=arguments.output / "full", subtasks=FIRST_FIVE_SUBTASKS, synthetic=False,
                       steps=arguments.steps, augment_copies=3, seed=arguments.seed)

    by_subtask: list[dict[str, float]] = []

    def evaluate(student) -> float:
        report = evaluate_in_process(student, test)
        by_subtask.append({item.subtask: item.accuracy for item in report.subtasks})
        return report.mean_accuracy

    full = trained_or_saved(base)
    full_accuracy = evaluate(full)
    print(f"full arm: {annotations} teacher annotations, test accuracy {100 * full_accuracy:.1f} %", flush=True)

    partial = replace(base, output=arguments.output / "cotrain", annotated_fraction=arguments.fraction)
    teacher = teacher_facts(FIRST_FIVE_SUBTASKS)
    rounds = cotrain(partial, arguments.rounds, evaluate=evaluate, policy=arguments.judge, relabel=arguments.relabel,
                     trainer=lambda config, number: trained_or_saved(replace(config,
                                                                             output=config.output / f"round-{number}")),
                     teacher=(lambda example: teacher.get(example.id)) if arguments.ask_teacher else None)
    used = sum(round(arguments.fraction * len(read_jsonl(record_path(name)))) for name in FIRST_FIVE_SUBTASKS)
    report = {
        "command": f"python -m training.experiments --fraction {arguments.fraction} --rounds {arguments.rounds} "
                   f"--steps {arguments.steps} --judge {arguments.judge}"
                   + (" --relabel" if arguments.relabel else "")
                   + (f" --eval-limit {arguments.eval_limit}" if arguments.eval_limit else "")
                   + (f" --seed {arguments.seed}" if arguments.seed else "")
                   + (" --ask-teacher" if arguments.ask_teacher else ""),
        "seed": arguments.seed,
        "ask_teacher": arguments.ask_teacher,
        "fraction": arguments.fraction,
        "judge": arguments.judge,
        "relabel": arguments.relabel,
        "subtasks": FIRST_FIVE_SUBTASKS,
        "test_questions": len(test),
        "full": {"teacher_annotations": annotations, "test_accuracy": full_accuracy,
                 "test_accuracy_by_subtask": by_subtask[0]},
        # Annotations the arm trained on, and the teacher calls behind them: its share, plus the questions asked.
        "cotrain": {"teacher_annotations": used + sum(r.teacher_verified for r in rounds),
                    "teacher_calls": used + sum(r.teacher_asked for r in rounds),
                    "rounds": [{**{k: v for k, v in asdict(r).items() if k != "targets"},
                                "test_accuracy_by_subtask": accuracies,
                                "targets_by_subtask": target_agreement(r.targets, teacher)}
                               for r, accuracies in zip(rounds, by_subtask[1:])]},
    }
    (arguments.output / "report.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=1))


def trained_or_saved(config: TrainConfig) -> StudentModel:
    """Train by ``config``, or load the student a killed run saved in its output from the same inputs.

    The saved student is reused when its configuration fingerprint is this
    one's and the code, rules, grammar and training records are those of the
    commit it was trained on, with no uncommitted change then or now.
    """
    saved = config.output / "config.json"
    if saved.exists():
        info = json.loads(saved.read_text(encoding="utf-8")).get("info", {})
        if (info.get("fingerprint") == config_fingerprint(config)
                and records_match(ROOT, info.get("code"), TRAINING_INPUTS)):
            print(f"reusing the student saved in {config.output}: same settings, code and training records", flush=True)
            return StudentModel.load(config.output)
    return train(config)


def teacher_facts(subtasks: list[str]) -> dict[str, str]:
    """Return the recorded teacher facts of every annotated training question, by question id."""
    return {f"{name}/{record['index']}": render_facts(parse_facts(record["facts"]))
            for name in subtasks for record in read_jsonl(record_path(name))}


def target_agreement(targets: dict[str, str], teacher: dict[str, str]) -> dict[str, dict[str, int]]:
    """Count, per subtask, the co-training targets and those identical to the teacher's facts."""
    counts: dict[str, dict[str, int]] = {}
    for question_id, facts in sorted(targets.items()):
        entry = counts.setdefault(question_id.split("/")[0], {"targets": 0, "identical_to_teacher": 0})
        entry["targets"] += 1
        entry["identical_to_teacher"] += facts == teacher.get(question_id)
    return counts


if __name__ == "__main__":
    main()

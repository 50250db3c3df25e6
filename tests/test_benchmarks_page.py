"""The co-training section of BENCHMARKS.md, built from a report of training.experiments."""

from reasoner.benchmarks import below_target_line, cotrain_seed_table, cotrain_section, cotrain_subtask_table, cotrain_target_table


def make_report(by_subtask: bool) -> dict:
    full = {"teacher_annotations": 902, "test_accuracy": 0.9}
    rounds = [{"round": 0, "newly_verified": 0, "verified_total": 0, "unannotated": 676, "test_accuracy": 0.7},
              {"round": 1, "newly_verified": 500, "verified_total": 500, "unannotated": 676, "test_accuracy": 0.85}]
    if by_subtask:
        full["test_accuracy_by_subtask"] = {"web_of_lies": 1.0, "navigate": 0.8}
        rounds[0]["test_accuracy_by_subtask"] = {"web_of_lies": 0.9, "navigate": 0.5}
        rounds[1]["test_accuracy_by_subtask"] = {"web_of_lies": 0.95, "navigate": 0.75}
    return {"command": "python -m training.experiments", "fraction": 0.25, "judge": "first",
            "test_questions": 120, "full": full, "cotrain": {"teacher_annotations": 226, "rounds": rounds}}


def test_subtask_table_rows():
    rows = cotrain_subtask_table(make_report(by_subtask=True))
    assert "| subtask | full annotations % | round 0 % | round 1 % |" in rows
    assert "| navigate | 80.0 | 50.0 | 75.0 |" in rows
    assert "| web_of_lies | 100.0 | 90.0 | 95.0 |" in rows


def test_older_report_has_no_subtask_table():
    assert cotrain_subtask_table(make_report(by_subtask=False)) == []


def test_section_states_the_gap():
    text = "\n".join(cotrain_section(make_report(by_subtask=True), []))
    assert "the co-training arm is 5.0 points below the full arm" in text
    assert "before co-training it was 20.0 points below" in text


def test_target_table_counts_identical_targets():
    report = make_report(by_subtask=True)
    report["cotrain"]["rounds"][1]["targets_by_subtask"] = {
        "navigate": {"targets": 60, "identical_to_teacher": 41}, "web_of_lies": {"targets": 70, "identical_to_teacher": 70}}
    report["cotrain"]["rounds"][0]["targets_by_subtask"] = {}  # round 0 has no targets yet
    rows = cotrain_target_table(report)
    assert "| subtask | round 1 |" in rows
    assert "| navigate | 41 of 60 |" in rows
    assert "| web_of_lies | 70 of 70 |" in rows
    assert cotrain_target_table(make_report(by_subtask=True)) == []


def test_seed_table_lists_matching_repeats():
    report = make_report(by_subtask=False)
    repeat = make_report(by_subtask=False)
    repeat["command"] += " --seed 1"
    repeat["seed"] = 1
    repeat["full"]["test_accuracy"] = 0.98
    repeat["cotrain"]["rounds"][-1]["test_accuracy"] = 0.97
    other = make_report(by_subtask=False)
    other["command"] += " --judge any --seed 2"  # other settings: not a repeat of this run
    other["seed"] = 2
    rows = cotrain_seed_table(report, [other, repeat])
    assert "| 0 | 90.0 | 85.0 | 5.0 |" in rows
    assert "| 1 | 98.0 | 97.0 | 1.0 |" in rows
    assert not any(row.startswith("| 2 |") for row in rows)
    assert "Mean gap over 2 seeds: 3.0 points." in rows
    assert cotrain_seed_table(report, [other]) == []


def test_seed_table_sorts_and_counts_each_seed_once():
    def run(seed: int, full: float, last: float) -> dict:
        report = make_report(by_subtask=False)
        report["command"] += f" --seed {seed}" if seed else ""
        report["seed"] = seed
        report["full"]["test_accuracy"] = full
        report["cotrain"]["rounds"][-1]["test_accuracy"] = last
        return report

    main = run(2, 0.9, 0.8)
    rows = cotrain_seed_table(main, [run(12, 0.9, 0.89), run(2, 0.5, 0.1), run(0, 0.9, 0.88)])
    seeds = [row.split(" | ")[0] for row in rows if row.startswith("| ") and row[2].isdigit()]
    assert seeds == ["| 0", "| 2", "| 12"]
    assert "| 2 | 90.0 | 80.0 | 10.0 |" in rows  # the published run, not the repeat with its seed
    assert "Mean gap over 3 seeds: 4.3 points." in rows


def test_below_target_line_names_subtasks():
    full = {"subtasks": [{"subtask": "word_sorting", "accuracy": 0.9}, {"subtask": "navigate", "accuracy": 0.99},
                         {"subtask": "hyperbaton", "accuracy": 0.5}, {"subtask": "snarks", "accuracy": 0.5}]}
    line = below_target_line(full)[0]
    assert "word_sorting 90.0," in line
    assert "hyperbaton 50.0 (knowledge base)" in line
    assert "navigate" not in line
    assert "snarks" not in line  # no pack serves it
    assert below_target_line({"subtasks": full["subtasks"][1:2]})[0] == "Every packed subtask reaches 97 %."


def test_section_counts_teacher_calls():
    report = make_report(by_subtask=True)
    report["command"] += " --ask-teacher"
    report["cotrain"]["teacher_annotations"] = 226 + 88
    report["cotrain"]["teacher_calls"] = 226 + 90
    report["cotrain"]["rounds"][1]["targets_by_subtask"] = {"navigate": {"targets": 60, "identical_to_teacher": 41}}
    report["cotrain"]["rounds"].append({"round": 2, "newly_verified": 0, "verified_total": 500, "unannotated": 676,
                                        "test_accuracy": 0.89, "teacher_asked": 90, "teacher_verified": 88,
                                        "test_accuracy_by_subtask": {"web_of_lies": 1.0, "navigate": 0.78},
                                        "targets_by_subtask": {"navigate": {"targets": 60, "identical_to_teacher": 41}}})
    lines = cotrain_section(report, [])
    assert "| 25 % annotations, round 1 | 226 | 500 | 85.0 |" in lines
    assert "| 25 % annotations, round 2: the teacher answered 90 unverified questions, 88 verified | 314 | 500 | 89.0 |" in lines
    text = "\n".join(lines)
    assert "the co-training arm is 1.0 points below the full arm" in text
    assert "the arm made 316 teacher calls and trained on 314 teacher annotations, 35 % of the full arm's 902" in text
    assert "Co-training alone (round 1) was 5.0 points below the full arm" in text
    assert "| subtask | full annotations % | round 0 % | round 1 % | round 2 (teacher) % |" in lines
    assert "| subtask | round 1 |" in lines  # the teacher's round adds no co-training targets
    assert "--ask-teacher" not in "\n".join(cotrain_section(make_report(by_subtask=False), []))

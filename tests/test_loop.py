"""The whole co-distillation loop in seconds: distill, co-train, propose, admit, retrain.

A replaying teacher on 127.0.0.1 answers from recorded responses. The data is
a BBH-shaped folder of teacher-written Boolean questions (the benchmark itself
is not needed), and the student is tiny and trained for a few steps.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from reasoner.bbh import BBH
from reasoner.packs import load_pack
from teacher_server import ReplayTeacher
from training.cotrain import cotrain, live_teacher
from training.distill import distill
from training.records import read_jsonl
from training.rulelearn import TrainingCase, learn_rules, pack_accuracy
from training.teacher import ResponseCache, Teacher, TeacherConfig, cache_key, sha256_text
from training.train import TrainConfig, train

ROOT = Path(__file__).resolve().parent.parent
TINY = {"d_model": 32, "ff_dim": 64, "decoder_layers": 1, "heads": 2}


def boolean_bbh(root: Path, count: int) -> tuple[BBH, list[dict]]:
    records = read_jsonl(ROOT / "training" / "records" / "synthetic" / "boolean_expressions.jsonl")[:count]
    (root / "bbh").mkdir(parents=True)
    examples = [{"input": r["question"], "target": r["answer"]} for r in records]
    (root / "bbh" / "boolean_expressions.json").write_text(json.dumps({"examples": examples}), encoding="utf-8")
    train_count = count - 4
    split = {"train": {"boolean_expressions": list(range(train_count))},
             "test": {"boolean_expressions": list(range(train_count, count))}}
    (root / "split.json").write_text(json.dumps(split), encoding="utf-8")
    return BBH(root), records


def test_loop_distill_cotrain_learn_retrain(tmp_path, solver):
    bbh, records = boolean_bbh(tmp_path / "bbh", 14)
    annotated = records[:5]  # the teacher has responses for five of the ten training questions
    responses = {sha256_text(r["question"]): r["facts"] for r in annotated}
    record_dir = tmp_path / "records"

    # 1. Distill: the teacher annotates; unknown questions are rejected by the server and skipped.
    with ReplayTeacher(responses) as server:
        teacher = Teacher(TeacherConfig(base_url=server.url, model="replay", backoff=0.01), ResponseCache(tmp_path / "cache.jsonl"))
        report = distill(bbh, ["boolean_expressions"], teacher, solver, None, echo=lambda _: None, record_dir=record_dir)
    assert report.verified == 5
    assert len(read_jsonl(record_dir / "boolean_expressions.jsonl")) == 5

    # 2. Co-train: one round over the five questions without annotations. Then the teacher, which now
    #    has a response for every training question, is asked about those the round left unverified. Only one
    #    of its answers is right, and only that one is kept.
    config = TrainConfig(output=tmp_path / "student", data=bbh.root, steps=2, batch_size=4, router_batch_size=4,
                         augment_copies=1, sizes=TINY, log_every=1, warmup=1, synthetic=False,
                         subtasks=["boolean_expressions"], cache=tmp_path / "encodings.pt", record_dir=record_dir)
    unannotated = records[5:10]
    right = unannotated[0]
    everything = {sha256_text(r["question"]): f'token(1,"{"False" if r["answer"] == "True" else "True"}").'
                  for r in unannotated[1:]}
    everything[sha256_text(right["question"])] = right["facts"]
    lines: list[str] = []
    with ReplayTeacher(everything) as server:
        teacher = Teacher(TeacherConfig(base_url=server.url, model="replay", backoff=0.01),
                          ResponseCache(tmp_path / "cache.jsonl"))
        rounds = cotrain(config, rounds=1, samples=2, echo=lines.append, teacher=live_teacher(teacher))
    assert [r.round for r in rounds] == [0, 1, 2]
    assert rounds[1].unannotated == 5
    assert 0 <= rounds[1].verified_total <= 5
    assert any(line.startswith("round 1: ") for line in lines)
    asked = 5 - rounds[1].verified_total
    assert teacher.calls == asked == rounds[2].teacher_asked
    right_sent = f"boolean_expressions/{records.index(right)}" not in rounds[1].targets
    assert rounds[2].teacher_verified == right_sent
    assert rounds[2].teacher_asked > rounds[2].teacher_verified  # a wrong answer was given, and rejected

    # 3. Propose and admit: the pack without "not" gets it back from the recorded proposal.
    pack_dir = tmp_path / "packs" / "boolean_expressions"
    shutil.copytree(ROOT / "tests" / "data" / "rulelearn" / "boolean_expressions", pack_dir)
    pack = load_pack(pack_dir)
    cases = [TrainingCase(json.loads(line)["id"], json.loads(line)["question"], json.loads(line)["facts"],
                          json.loads(line)["answer"])
             for line in (ROOT / "tests" / "data" / "rulelearn" / "cases.jsonl").read_text(encoding="utf-8").splitlines()]
    cache = tmp_path / "proposals.jsonl"
    shutil.copyfile(ROOT / "training" / "records" / "teacher_cache.jsonl", cache)
    decision = learn_rules(pack, cases, Teacher(TeacherConfig(model="claude-subagent"), ResponseCache(cache)),
                           solver, record_dir=record_dir, echo=lambda _: None)
    assert decision.admitted
    assert pack_accuracy(load_pack(pack_dir), cases, solver)[0] == 1.0

    # 4. Retrain on the annotations and the co-training targets; the student loads and translates.
    student = train(config, echo=lambda _: None)
    assert (tmp_path / "student" / "model.safetensors").is_file()
    assert student.info["examples"]["annotated"] == 5


class ScriptedStudent:
    """Student stand-in that returns fixed candidates, best first. The solver stays real.

    The candidates' log probabilities fall by ``step`` from one to the next.
    """

    def __init__(self, candidates: list[str], step: float = 1.0):
        self.candidates = candidates
        self.step = step

    def translate(self, question, pack=None, beam_size=6):
        from reasoner.student.decoding import Candidate

        return [Candidate("boolean_expressions", facts, -self.step * rank)
                for rank, facts in enumerate(self.candidates[:beam_size])]


def test_judge_policy_first_and_any(solver):
    from training.cotrain import find_verified
    from training.dataset import Example

    question = "not ( True ) and ( False ) is"
    unparseable = 'token(1, "not"'
    wrong = 'token(1, "True").\n'  # answers True
    right = 'token(1, "not").\ntoken(2, "(").\ntoken(3, "True").\ntoken(4, ")").\n'  # answers False
    pool = [Example("boolean_expressions/0", question, "boolean_expressions", None, "annotation", "False")]

    student = ScriptedStudent([unparseable, wrong, right])
    assert find_verified(student, pool, solver, samples=3, policy="first") == []
    found = find_verified(student, pool, solver, samples=3, policy="any")
    assert [e.origin for e in found] == ["cotrain"]
    assert len(found[0].facts) == 4

    # A failed candidate before the right one does not stop the search under either policy.
    student = ScriptedStudent([unparseable, right, wrong])
    assert len(find_verified(student, pool, solver, samples=3, policy="first")) == 1


def test_judge_policy_confident(solver):
    """A verified candidate counts when the student is sure of it or the other candidates disagree."""
    from training.cotrain import find_verified
    from training.dataset import Example

    question = "not ( True ) and ( False ) is"
    right = 'token(1, "not").\ntoken(2, "(").\ntoken(3, "True").\ntoken(4, ")").\n'  # answers False
    also_false = 'token(1, "False").\n'
    true = 'token(1, "True").\n'
    pool = [Example("boolean_expressions/0", question, "boolean_expressions", None, "annotation", "False")]

    def kept(candidates, step=1.0):
        return len(find_verified(ScriptedStudent(candidates, step), pool, solver, samples=3, policy="confident"))

    # Shares 0.67, 0.24, 0.09: not sure enough alone.
    assert kept([right, true, also_false]) == 1  # the others mostly give True
    assert kept([right, also_false, true]) == 0  # the others mostly give False too
    assert kept([right, also_false, also_false], step=4.0) == 1  # share 0.96
    assert kept([true, right, true]) == 0  # the first solved candidate is wrong


# One scene asked twice with other options (the tin cup is leftmost, the jade cup rightmost), and its facts.
CUP_SCENE = ("Three cups stand in a row: a tin cup, a jade cup and a clay cup. The tin cup is left of the "
             "jade cup. The clay cup is second from the right.")
CUPS = ("tin cup", "jade cup", "clay cup")
LEFTMOST = CUP_SCENE + "\nOptions:\n" + "\n".join(f"({l}) The {c} is the leftmost." for l, c in zip("ABC", CUPS))
RIGHTMOST = CUP_SCENE + "\nOptions:\n" + "\n".join(f"({l}) The {c} is the rightmost." for l, c in zip("ABC", CUPS))
CUP_OBJECTS = "".join(f'object("{c}").\n' for c in CUPS) + 'before("tin cup", "jade cup").\n'
RIGHT_SCENE = CUP_OBJECTS + 'rank("clay cup", last, 2).\n'
WRONG_SCENE = CUP_OBJECTS + 'rank("clay cup", last, 1).\n'  # tin, jade, clay: the tin cup is still leftmost


def cup_options(end: str) -> str:
    """Return the option facts that name each cup as the first from ``end``."""
    return "".join(f'option("{l}", "{c}", {end}, 1).\n' for l, c in zip("ABC", CUPS))


class SceneStudent:
    """Student stand-in with fixed logical deduction candidates per question, best first. The solver stays real.

    A question maps to one candidate or a list; log probabilities fall by ``step`` from one to the next.
    """

    def __init__(self, by_question: dict[str, str | list[str]], step: float = 1.0):
        self.by_question = by_question
        self.step = step

    def translate(self, question, pack=None, beam_size=6):
        from reasoner.student.decoding import Candidate

        found = self.by_question[question]
        candidates = [found] if isinstance(found, str) else found
        return [Candidate("logical_deduction", facts, -self.step * rank)
                for rank, facts in enumerate(candidates[:beam_size])]


def test_judge_policy_siblings(solver):
    """A scene counts only when, with each sibling's options, it gives that sibling's gold answer too."""
    from reasoner.facts import parse_facts
    from training.cotrain import find_verified, sibling_groups
    from training.dataset import Example

    scene, cups, leftmost, rightmost, options = CUP_SCENE, CUPS, LEFTMOST, RIGHTMOST, cup_options
    right, wrong = RIGHT_SCENE, WRONG_SCENE

    first = Example("logical_deduction_three_objects/0", leftmost, "logical_deduction", None, "route-only", "(A)")
    second = Example("logical_deduction_three_objects/1", rightmost, "logical_deduction", None, "route-only", "(B)")
    alone = Example("logical_deduction_three_objects/2", scene + " Which is first?\nOptions:\n(A) The tin cup is the "
                    "leftmost.", "logical_deduction", None, "route-only", "(A)")
    siblings = sibling_groups([first, second, alone])
    assert {i: [s.id for s in group] for i, group in siblings.items()} == {first.id: [second.id],
                                                                           second.id: [first.id]}
    # Another pack's question with the same stem is not a sibling, nor is a stem shared by six questions.
    other_pack = Example("navigate/0", rightmost, "navigate", None, "route-only", "(B)")
    assert set(sibling_groups([first, second, other_pack])) == {first.id, second.id}
    prefix = [Example(f"logical_deduction_three_objects/{i}", f"{scene}\nOptions:\n(A) {i}", "logical_deduction",
                      None, "route-only", "(A)") for i in range(6)]
    assert sibling_groups(prefix) == {}
    assert len(sibling_groups(prefix[:5])) == 5
    # The same question asked twice is not its own sibling.
    assert sibling_groups([first, Example("logical_deduction_three_objects/9", leftmost, "logical_deduction", None,
                                          "route-only", "(A)")]) == {}

    def kept(translations: dict, pool=(first, second), groups=siblings, policy="siblings", step=1.0) -> list[str]:
        return [e.id for e in find_verified(SceneStudent(translations, step), list(pool), solver, samples=3,
                                            policy=policy, siblings=groups)]

    both_right = {leftmost: right + options("first"), rightmost: right + options("last")}
    assert kept(both_right) == [first.id, second.id]
    # The wrong scene answers its own question, but with the sibling's options it names the clay cup.
    one_wrong = {leftmost: wrong + options("first"), rightmost: right + options("last")}
    assert kept(one_wrong) == [second.id]
    assert len(find_verified(SceneStudent(one_wrong), [first], solver, samples=1, policy="confident")) == 1
    # A teacher-annotated sibling lends its option facts.
    annotated = {first.id: [Example(second.id, rightmost, "logical_deduction", parse_facts(right + options("last")),
                                    "annotation", "(B)")]}
    assert kept(one_wrong, pool=[first], groups=annotated) == []
    assert kept(both_right, pool=[first], groups=annotated) == [first.id]
    # A question without siblings is judged as under confident.
    assert kept({alone.text: wrong + 'option("A", "tin cup", first, 1).\n'}, pool=[alone]) == [alone.id]

    # Shares 0.73 and 0.27, both giving (A): confident rejects, and a passing sibling check accepts.
    unsure = {leftmost: [right + options("first"), wrong + options("first")], rightmost: right + options("last")}
    assert kept(unsure, pool=[first], policy="confident") == []
    assert kept(unsure) == [first.id, second.id]
    # When no sibling can be checked (its translation does not parse), confident decides.
    unparseable = dict(unsure, **{rightmost: 'object("tin cup"'})
    assert kept(unparseable) == []
    assert kept(unparseable, step=4.0) == [first.id]
    # A sibling lends the options of its first solved candidate, not of an unsolved one before it.
    ambiguous = "".join(f'object("{c}").\n' for c in cups)  # every order fits: no answer
    late = {leftmost: right + options("first"), rightmost: [ambiguous + options("first"), right + options("last")]}
    assert kept(late) == [first.id, second.id]


def test_cotrain_checks_scenes_against_verified_siblings(tmp_path, monkeypatch):
    """Co-training passes the siblings to the judge, and a sibling verified earlier lends its target's options."""
    import training.cotrain as cotrain_module

    leftmost, rightmost, options = LEFTMOST, RIGHTMOST, cup_options
    right, wrong = RIGHT_SCENE, WRONG_SCENE

    root = tmp_path / "bbh"
    (root / "bbh").mkdir(parents=True)
    examples = [{"input": leftmost, "target": "(A)"}, {"input": rightmost, "target": "(B)"}]
    (root / "bbh" / "logical_deduction_three_objects.json").write_text(json.dumps({"examples": examples}),
                                                                         encoding="utf-8")
    (root / "split.json").write_text(json.dumps({"train": {"logical_deduction_three_objects": [0, 1]},
                                                 "test": {"logical_deduction_three_objects": []}}), encoding="utf-8")
    # Each round the student mistranslates the first question's scene, which still answers it.
    translations = {leftmost: wrong + options("first"), rightmost: right + options("last")}
    monkeypatch.setattr(cotrain_module, "train", lambda config, progress_factory=None, echo=None:
                        SceneStudent(translations))
    config = TrainConfig(output=tmp_path / "student", data=root, synthetic=False,
                         subtasks=["logical_deduction_three_objects"], record_dir=tmp_path / "records")

    rounds = cotrain(config, rounds=2, samples=1, echo=lambda _: None, policy="siblings")
    # Round 2 translates only the first question; its sibling's options come from the round-1 target.
    assert [r.newly_verified for r in rounds] == [0, 1, 0]
    assert list(rounds[2].targets) == ["logical_deduction_three_objects/1"]


class QuestionStudent:
    """Student stand-in that returns a fixed candidate per question text. The solver stays real."""

    def __init__(self, by_question: dict[str, str]):
        self.by_question = by_question

    def translate(self, question, pack=None, beam_size=6):
        from reasoner.student.decoding import Candidate

        facts = self.by_question.get(question)
        return [Candidate("boolean_expressions", facts, 0.0)] if facts else []


def test_relabel_replaces_earlier_targets(tmp_path, monkeypatch):
    import training.cotrain as cotrain_module
    from reasoner.facts import parse_facts, render_facts

    bbh, records = boolean_bbh(tmp_path / "bbh", 8)  # four training questions, none annotated
    shortcut = 'token(1,"False").\n'  # reaches the gold answer False without translating the question
    first_false = next(r for r in records[:4]
                       if r["answer"] == "False" and parse_facts(r["facts"]) != parse_facts(shortcut))
    round_one = {first_false["question"]: shortcut}
    round_two = {r["question"]: r["facts"] for r in records[:4]}
    students = iter([QuestionStudent(round_one), QuestionStudent(round_two), QuestionStudent({})])
    trained_on: list[dict[str, str]] = []

    def scripted_train(config, progress_factory=None, echo=None):
        trained_on.append({e.id: render_facts(e.facts) for e in config.extra_examples})
        return next(students)

    monkeypatch.setattr(cotrain_module, "train", scripted_train)
    config = TrainConfig(output=tmp_path / "student", data=bbh.root, synthetic=False,
                         subtasks=["boolean_expressions"], record_dir=tmp_path / "records")
    question_id = f"boolean_expressions/{records.index(first_false)}"
    teacher = render_facts(parse_facts(first_false["facts"]))

    rounds = cotrain(config, rounds=2, samples=1, echo=lambda _: None, relabel=True)
    assert [r.newly_verified for r in rounds] == [0, 1, 3]
    assert [r.relabelled for r in rounds] == [0, 0, 1]
    assert [r.verified_total for r in rounds] == [0, 1, 4]
    assert trained_on[1] == {question_id: shortcut}
    assert trained_on[2][question_id] == teacher == rounds[2].targets[question_id]

    # Without relabelling the first target stays, and only the other questions are translated.
    students = iter([QuestionStudent(round_one), QuestionStudent(round_two), QuestionStudent({})])
    trained_on.clear()
    rounds = cotrain(config, rounds=2, samples=1, echo=lambda _: None)
    assert [r.newly_verified for r in rounds[1:]] == [1, 3]
    assert [r.relabelled for r in rounds[1:]] == [0, 0]
    assert trained_on[2][question_id] == shortcut


def test_teacher_gets_unverified_questions_only(tmp_path, monkeypatch):
    """After the last round the teacher gets the unverified questions; only its verified answers are trained on."""
    import training.cotrain as cotrain_module
    from reasoner.facts import parse_facts, render_facts

    bbh, records = boolean_bbh(tmp_path / "bbh", 8)  # four training questions, none annotated
    train_records = records[:4]
    ids = [f"boolean_expressions/{i}" for i in range(4)]
    solved_by_student = {train_records[0]["question"]: train_records[0]["facts"]}
    students = iter([QuestionStudent(solved_by_student), QuestionStudent({}), QuestionStudent({})])
    trained_on: list[dict[str, tuple[str, str]]] = []

    def scripted_train(config, progress_factory=None, echo=None):
        trained_on.append({e.id: (e.origin, render_facts(e.facts)) for e in config.extra_examples})
        return next(students)

    def wrong(record: dict) -> str:  # one token that gives the other truth value
        return f'token(1,"{"False" if record["answer"] == "True" else "True"}").\n'

    asked: list[str] = []
    replies = {ids[1]: train_records[1]["facts"], ids[2]: wrong(train_records[2]), ids[3]: None}

    def teacher(example):
        asked.append(example.id)
        return replies[example.id]

    monkeypatch.setattr(cotrain_module, "train", scripted_train)
    config = TrainConfig(output=tmp_path / "student", data=bbh.root, synthetic=False,
                         subtasks=["boolean_expressions"], record_dir=tmp_path / "records")
    lines: list[str] = []
    rounds = cotrain(config, rounds=1, samples=1, echo=lines.append, teacher=teacher)

    assert asked == ids[1:]
    assert [r.round for r in rounds] == [0, 1, 2]
    assert rounds[2].teacher_asked == 2  # the question without a reply does not count
    assert rounds[2].teacher_verified == 1
    assert rounds[2].verified_total == 1
    assert list(rounds[2].targets) == [ids[0]]
    assert trained_on[2] == {ids[0]: ("cotrain", render_facts(parse_facts(train_records[0]["facts"]))),
                             ids[1]: ("annotation", render_facts(parse_facts(train_records[1]["facts"])))}
    assert "the teacher answered 2 unverified questions, 1 verified" in lines[-1]


def test_live_teacher_budget(tmp_path):
    """Cached responses answer past the budget, and calls made before the budget's teacher was set up do not count."""
    from training.annotate import prompt_path
    from training.dataset import Example

    def question(number: int, text: str) -> Example:
        return Example(f"boolean_expressions/{number}", text, "boolean_expressions", None, "route-only", "False")

    cached, first, second = question(0, "not ( True ) is"), question(1, "True and False is"), question(2, "False or False is")
    prompt = prompt_path("boolean_expressions").read_text(encoding="utf-8")
    with ReplayTeacher({sha256_text(first.text): 'token(1,"not").', sha256_text(second.text): 'token(1,"not").'}) as server:
        teacher = Teacher(TeacherConfig(base_url=server.url, model="replay", max_retries=0),
                          ResponseCache(tmp_path / "cache.jsonl"))
        teacher.cache.put({"key": cache_key("replay", sha256_text(prompt), sha256_text(cached.text),
                                            teacher.config.parameters()),
                           "response": "```\ntoken(1,\"not\").\n```"}, persist=False)
        assert live_teacher(teacher)(first) == 'token(1,"not").\n'
        assert teacher.calls == 1
        budget_one = live_teacher(teacher, budget=1)
        assert budget_one(cached) == 'token(1,"not").\n'  # from the cache, with the code fence cleaned away
        assert budget_one(second) == 'token(1,"not").\n'
        assert teacher.calls == 2
        assert budget_one(question(3, "True or True is")) is None  # past the budget: no request
        assert teacher.calls == 2


def test_live_teacher_stops_after_failures(tmp_path):
    """After three failed requests in a row no more are made; each failure is echoed."""
    from training.cotrain import MAX_TEACHER_FAILURES
    from training.dataset import Example

    with ReplayTeacher({}) as server:  # no responses, so it rejects every request
        teacher = Teacher(TeacherConfig(base_url=server.url, model="replay", max_retries=0),
                          ResponseCache(tmp_path / "cache.jsonl"))
        echoed: list[str] = []
        ask = live_teacher(teacher, echo=echoed.append)
        for number in range(MAX_TEACHER_FAILURES + 2):
            assert ask(Example(f"boolean_expressions/{number}", f"True or {number} is", "boolean_expressions")) is None
    assert server.requests == MAX_TEACHER_FAILURES
    assert [line.split(":")[0] for line in echoed[:MAX_TEACHER_FAILURES]] == [
        f"boolean_expressions/{number}" for number in range(MAX_TEACHER_FAILURES)]
    assert echoed[-1] == "the teacher failed 3 times in a row; no more questions are sent to it"
    assert ask(Example("new_pack/1", "True is", "new_pack")) is None  # a pack without an annotation prompt
    assert echoed[-1].startswith("new_pack/1: cannot read the annotation prompt of pack new_pack: ")


def test_target_agreement_per_subtask():
    from training.experiments import target_agreement

    teacher = {"navigate/1": "move(1,left,2).", "navigate/2": "move(1,right,2).", "web_of_lies/4": 'given("A",lie).'}
    targets = {"navigate/1": "move(1,left,2).", "navigate/2": "move(1,left,2).", "web_of_lies/4": 'given("A",lie).',
               "web_of_lies/5": 'given("B",lie).'}
    assert target_agreement(targets, teacher) == {"navigate": {"targets": 2, "identical_to_teacher": 1},
                                                  "web_of_lies": {"targets": 2, "identical_to_teacher": 1}}

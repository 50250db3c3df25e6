"""Derivations and emitted programs: the audit trail behind every verified answer."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import clingo
import pytest

from conftest import pack_questions, unseen_questions
from reasoner.cli import write_program
from reasoner.evaluate import answer_example
from reasoner.bbh import Example
from reasoner.explain import Node, derivation_tree, render_tree, solve_traced, tree_to_json
from reasoner.facts import parse_facts
from reasoner.pipeline import ROUTE_SOLVER, Answer, Reasoner
from reasoner.question import parse_question
from reasoner.solver import explain
from reasoner.symbols import symbol_value

UNSEEN = unseen_questions()
ALL_PACKS = pack_questions()


def leaves(node: Node) -> list[Node]:
    if not node.children:
        return [node]
    return [leaf for child in node.children for leaf in leaves(child)]


@pytest.mark.parametrize("item", ALL_PACKS, ids=lambda item: item["pack"])
def test_gold_facts_have_a_derivation(packs, solver, item):
    pack = packs[item["pack"]]
    facts = parse_facts(item["facts"])
    result = solver.solve(pack, facts, parse_question(item["question"]))
    tree = explain(solver, pack, facts, result)
    assert tree is not None
    # A sequence answer (answer/2) has one derivation per element under its root.
    roots = tree.children if pack.answer_predicate.endswith("/2") else [tree]
    for root in roots:
        assert root.atom.startswith("answer(")
        assert root.rule is not None
        assert root.rule.line > 0
        assert root.rule.file.endswith((".lp", ".pl"))
    # Every leaf is an input fact, a built-in goal, a rule fact of the pack, or an aggregate's result.
    inputs = {fact.render()[:-1] for fact in facts} | {fact.render_prolog()[:-1] for fact in facts}
    for leaf in leaves(tree):
        assert leaf.atom in inputs or leaf.rule is not None
    text = render_tree(tree)
    assert text.splitlines()[0].startswith(tree.atom)
    assert json.dumps(tree_to_json(tree))


def test_derivation_prefers_positive_rules(packs, solver):
    """A liar chain is explained step by step, not by "liar(P) :- person(P), not honest(P)"."""
    pack = packs["web_of_lies"]
    text = "Vlad lies. Ana says Vlad lies. Bo says Ana lies. Does Bo tell the truth?"
    facts = parse_facts('given("Vlad", lie). says("Ana", "Vlad", lie). says("Bo", "Ana", lie). ask("Bo").')
    result = solver.solve(pack, facts, parse_question(text))
    tree = explain(solver, pack, facts, result)
    derived = [node for node in walk(tree) if node.rule is not None]
    assert [node.atom for node in derived] == ['answer("No")', 'liar("Bo")', 'honest("Ana")', 'liar("Vlad")']
    for node in derived:
        assert node.rule.kind == "rule", node.rule.text


def walk(node: Node) -> list[Node]:
    return [node] + [item for child in node.children for item in walk(child)]


def reproduce(directory, pack) -> str:
    """Run plain clingo (or swipl) on an emitted program and return the answer it prints."""
    names = [path.name for path in pack.rule_files]
    if pack.engine == "prolog":
        goal = 'forall(answer(X), format("answer(\\"~w\\")~n", [X])), halt'
        command = ["swipl", "-q", "-g", goal, *names, "facts.pl"]
        output = subprocess.run(command, cwd=directory, capture_output=True, text=True, timeout=60).stdout
        atoms = [clingo.parse_term(line) for line in output.splitlines()]
    else:
        command = [sys.executable, "-m", "clingo", *names, "facts.lp", "-n", "0", "--project=show", "--outf=2"]
        report = json.loads(subprocess.run(command, cwd=directory, capture_output=True, text=True, timeout=60).stdout)
        if report["Result"] == "UNSATISFIABLE" and pack.unsatisfiable_answer:
            assert "UNSATISFIABLE" in (directory / "README.txt").read_text(encoding="utf-8")
            return pack.unsatisfiable_answer
        witnesses = report["Call"][0]["Witnesses"]
        assert len(witnesses) == 1
        atoms = [clingo.parse_term(atom) for atom in witnesses[0]["Value"]]
    if pack.answer_predicate.endswith("/2"):
        return " ".join(symbol_value(a.arguments[1]) for a in sorted(atoms, key=lambda a: a.arguments[0].number))
    assert len(atoms) == 1
    return symbol_value(atoms[0].arguments[0])


@pytest.mark.parametrize("item", UNSEEN, ids=lambda item: item["pack"])
def test_emitted_program_student_facts(reasoner, tmp_path, item):
    """The student's facts and the pack's rules, written out, give the same answer without reason."""
    answer = reasoner.answer(item["question"], pack=item["pack"])
    assert answer.verified, [a.outcome for a in answer.attempts]
    pack = reasoner.packs[item["pack"]]
    write_program(answer, tmp_path, pack)
    assert (tmp_path / "README.txt").read_text(encoding="utf-8").startswith(f"Answer {answer.answer} of pack")
    assert parse_question(item["question"]).match(reproduce(tmp_path, pack), pack.answer_domain) == item["answer"]


@pytest.mark.parametrize("item", ALL_PACKS, ids=lambda item: item["pack"])
def test_emitted_program_per_pack(packs, solver, tmp_path, item):
    """One question per pack, from its reference facts: plain clingo or swipl agrees with reason."""
    pack = packs[item["pack"]]
    question = parse_question(item["question"])
    result = solver.solve(pack, parse_facts(item["facts"]), question)
    assert result.answer == item["answer"], result.message
    answer = Answer(question, result.answer, ROUTE_SOLVER, pack.name, item["facts"], result)
    write_program(answer, tmp_path, pack)
    assert question.match(reproduce(tmp_path, pack), pack.answer_domain) == item["answer"]


def test_every_eval_answer_has_derivation_or_label(reasoner):
    """An evaluated answer is either verified with a derivation or labelled as the fallback's."""
    for number, item in enumerate(UNSEEN):
        example = Example("project", number, item["question"], item["answer"])
        result = answer_example(reasoner, example)
        assert result.route in ("solver", "fallback")
        if result.route == "solver":
            assert result.has_derivation


def test_project_questions_cover_packs(packs):
    """The per-pack tests above hold for a new pack only once it has a project-written question."""
    assert {item["pack"] for item in ALL_PACKS} == set(packs)


def test_traced_program_follows_rule_file_changes(tmp_path):
    """The traced program is parsed once per version of the rule files, and a changed file is parsed again."""
    rules = tmp_path / "rules.lp"
    rules.write_text("b(X) :- a(X).\n")
    first = solve_traced([str(rules)], "a(1).", 10.0)
    assert solve_traced([str(rules)], "a(2).", 10.0)["why"] == [[0, "b(2)", ["a(2)"]]]
    rules.write_text("c(X) :- a(X).\nb(X) :- c(X).\n")
    second = solve_traced([str(rules)], "a(1).", 10.0)
    assert first["why"] == [[0, "b(1)", ["a(1)"]]]
    assert sorted(second["why"]) == [[0, "c(1)", ["a(1)"]], [1, "b(1)", ["c(1)"]]]
    tree = derivation_tree(second, "b(1)", {"a(1)"})
    assert [tree.atom, tree.children[0].atom, tree.children[0].children[0].atom] == ["b(1)", "c(1)", "a(1)"]
    assert tree.rule.line == 2
    rules.write_text("b(X) :- a(X)\n")  # no closing period
    assert solve_traced([str(rules)], "a(1).", 10.0)["status"] == "error"


def test_traced_program_cache_reads_contents(tmp_path):
    """A rule file replaced by one of the same size and modification time, as cp -p leaves it, is parsed again."""
    rules = tmp_path / "rules.lp"
    rules.write_text("b(X) :- a(X).\n")
    stamp = rules.stat()
    assert solve_traced([str(rules)], "a(1).", 10.0)["why"] == [[0, "b(1)", ["a(1)"]]]
    rules.write_text("c(X) :- a(X).\n")
    os.utime(rules, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert solve_traced([str(rules)], "a(1).", 10.0)["why"] == [[0, "c(1)", ["a(1)"]]]
    rules.unlink()
    reply = solve_traced([str(rules)], "a(1).", 10.0)
    assert reply["status"] == "error"
    assert "cannot read the rule file" in reply["message"]


def test_solver_death_while_explaining_keeps_batch(student):
    """A solver process that dies during an explanation costs that derivation, not the batch's answers."""
    questions = [item["question"] for item in UNSEEN[:3]]
    with Reasoner(student) as reasoner:
        real_run = reasoner.solver.run

        def run_killing_explanations(request, time_limit):
            if not request.get("explain"):
                return real_run(request, time_limit)
            # The real worker dies just before the request reaches it, and is not restarted first.
            reasoner.solver.start()
            reasoner.solver._process.kill()
            reasoner.solver._process.wait()
            reasoner.solver.start = lambda: None
            try:
                return real_run(request, time_limit)
            finally:
                del reasoner.solver.start

        reasoner.solver.run = run_killing_explanations
        answers = reasoner.answer_many(questions, explain_answer=True)
    for item, answer in zip(UNSEEN[:3], answers):
        assert answer.route == ROUTE_SOLVER
        assert answer.answer == item["answer"]
        assert answer.derivation is None

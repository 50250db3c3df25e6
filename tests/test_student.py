"""The student: training targets, constrained decoding, routing, and unseen questions end to end."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch

from conftest import unseen_questions
from reasoner.facts import check_facts, parse_facts, render_facts
from reasoner.question import parse_question
from reasoner.student.rationale import words_of
from reasoner.paths import MODEL_DIR
from reasoner.student.actions import ActionSpace, FactWriter
from reasoner.student.decoding import first_copy_mask, list_may_end, next_copy_mask
from reasoner.student.words import can_end_span, find_spans, segment, span_text
from training.dataset import AlignmentError, target_steps

UNSEEN = unseen_questions()


def replay(space, pack, text, steps) -> str:
    """Write the fed action of every step through a FactWriter, as teacher forcing does."""
    words = segment(text)
    writer = FactWriter(space, pack)
    for step in steps:
        if step.fed_vocab >= 0:
            writer.apply_vocab(step.fed_vocab)
        elif step.span_kind == 2:
            writer.apply_number(words[step.fed_span[0]].text)
        else:
            writer.apply_name(span_text(text, words, *step.fed_span))
    assert writer.finished
    return writer.text


@pytest.mark.parametrize("item", UNSEEN, ids=lambda item: item["pack"])
def test_targets_replay_to_the_same_facts(packs, item):
    space = ActionSpace(packs.values())
    pack = packs[item["pack"]]
    facts = parse_facts(item["facts"])
    steps = target_steps(space, pack, item["question"], segment(item["question"]), facts)
    assert parse_facts(replay(space, pack, item["question"], steps)) == facts


def copy_steps(packs, pack: str, text: str, facts: str):
    """Return the question's words and the target steps that copy a span from it."""
    words = segment(text)
    steps = target_steps(ActionSpace(packs.values()), packs[pack], text, words, parse_facts(facts))
    return words, [step for step in steps if step.fed_vocab < 0]


def test_target_is_the_fed_occurrence(packs):
    """A name written twice is targeted at one occurrence, the one whose read position is fed on."""
    words, copies = copy_steps(
        packs, "web_of_lies", "Ann lies. Bo says Ann lies. Cy says Bo tells the truth. Does Cy tell the truth?",
        'given("Ann", lie). says("Bo", "Ann", lie). says("Cy", "Bo", truth). ask("Cy").')
    for step in copies:
        assert step.span_targets == [step.fed_span]
        assert step.vocab_targets == []
    assert [words[step.fed_span[0]].text for step in copies] == ["Ann", "Bo", "Ann", "Cy", "Bo", "Cy"]
    assert [step.fed_span[0] for step in copies] == [0, 3, 5, 8, 10, 16]


def test_repeated_number_is_read_from_each_move(packs):
    """Equal numbers in a list of moves are read one after another, never twice from one word."""
    words, copies = copy_steps(
        packs, "navigate", "Take 3 steps forward. Take 3 steps left. Take 3 steps backward. Do you return?",
        "move(1, forward, 3). move(2, left, 3). move(3, backward, 3).")
    assert [step.fed_span[0] for step in copies] == [1, 6, 11]


def test_table_rows_are_read_from_the_table(packs):
    """A row name is read from its row, and read there again for its cells, not from the example below."""
    text = ("Here is a table:\nname, age, height\nAda, 4, 31\nBo, 6, 29\n"
            "For example: the age of Ada is 4.\nHow many are older than 5?")
    words, copies = copy_steps(
        packs, "tables", text,
        'table(1, "table"). row(1, 1, "Ada"). cell("Ada", "age", 4). '
        'row(2, 1, "Bo"). cell("Bo", "age", 6). ask(count).')
    read = [(words[step.fed_span[0]].text, words[step.fed_span[0]].line) for step in copies]
    assert read[1] == ("Ada", 2)
    assert read[2] == ("Ada", 2)
    assert read[5] == ("Bo", 3)
    assert read[6] == ("Bo", 3)


def test_name_missing_from_question_is_alignment_error(packs):
    space = ActionSpace(packs.values())
    text = "Ann lies. Does Ann tell the truth?"
    with pytest.raises(AlignmentError, match="not written in the question"):
        target_steps(space, packs["web_of_lies"], text, segment(text), parse_facts('given("Anne", lie). ask("Ann").'))


def test_misnumbered_sequence_is_alignment_error(packs):
    space = ActionSpace(packs.values())
    text = "True and False is"
    facts = parse_facts('token(1, "True"). token(3, "and"). token(4, "False").')
    with pytest.raises(AlignmentError, match="not numbered"):
        target_steps(space, packs["boolean_expressions"], text, segment(text), facts)


def test_writer_allows_only_the_grammar(packs):
    space = ActionSpace(packs.values())
    writer = FactWriter(space, packs["navigate"])
    spec = writer.expecting()
    assert {space.vocab[i] for i in spec.vocab} == {"<eos>", "pred:move", "pred:turn"}
    writer.apply_vocab(space.index["pred:move"])
    # The step number is written without a model step; the direction comes next.
    assert writer.text == "move(1,"
    assert {space.vocab[i] for i in writer.expecting().vocab} == {
        "const:forward", "const:backward", "const:left", "const:right"}


def test_writer_copies_do_not_share_values(packs):
    """Two copies of one writer, each fed another fact, hold only their own tokens."""
    space = ActionSpace(packs.values())
    writer = FactWriter(space, packs["logical_deduction"])
    for name in ("tin cup", "jade cup"):
        writer.apply_vocab(space.index["pred:object"])
        writer.apply_name(name)
    first, second = writer.copy(), writer.copy()
    for writer_copy, name in ((first, "clay cup"), (second, "iron cup")):
        writer_copy.apply_vocab(space.index["pred:object"])
        writer_copy.apply_name(name)
        # The next fact's first token makes the parser reduce the list of facts so far.
        writer_copy.apply_vocab(space.index["pred:object"])

    def tokens(values) -> list[str]:
        """Flatten the value stack, whether it contains lists of children or trees."""
        found = []
        for value in values:
            children = value if isinstance(value, list) else getattr(value, "children", None)
            found += [str(value)] if children is None else tokens(children)
        return found

    first_tokens = tokens(first.parser.parser_state.value_stack)
    second_tokens = tokens(second.parser.parser_state.value_stack)
    assert '"clay cup"' in first_tokens
    assert '"iron cup"' not in first_tokens
    assert '"iron cup"' in second_tokens
    assert '"clay cup"' not in second_tokens
    assert first.text.count("object(") == second.text.count("object(") == 4


def test_transcribing_pack_copies_numbers(packs):
    space = ActionSpace(packs.values())
    writer = FactWriter(space, packs["multistep_arithmetic"])
    writer.apply_vocab(space.index["pred:num"])
    spec = writer.expecting()
    assert spec.span == "number"
    assert spec.vocab == ()


def test_next_copy_skips_separators():
    words = segment("List: pear, fig; and plum kiwi")
    separators = (",", ";", "and")
    # List(0) :(1) pear(2) ,(3) fig(4) ;(5) and(6) plum(7) kiwi(8)
    assert next_copy_mask(words, 1, separators).nonzero().flatten().tolist() == [2]
    assert next_copy_mask(words, 2, separators).nonzero().flatten().tolist() == [4]
    assert next_copy_mask(words, 4, separators).nonzero().flatten().tolist() == [7]
    assert next_copy_mask(words, 4, ()).nonzero().flatten().tolist() == [5]
    assert next_copy_mask(words, len(words) - 1, ()).sum() == 0


@pytest.mark.parametrize("text, name, copyable", [
    ("Every uncle of Lavern. Every schoolmate of Jeffery is a nephew.", "uncle of Lavern. Every schoolmate", False),
    ("She is a patient of Dr. Haddad. So she is a friend.", "patient of Dr. Haddad", True),
    ("He is a friend of R. Charleroi SC. So he is a fan.", "friend of R. Charleroi SC", True),
    ("It was on St. Andrew's Day last year.", "St. Andrew's Day", True),
    ("The pole is 3.5 m tall.", "3.5 m", True),
])
def test_span_over_sentence_end(text, name, copyable):
    words = segment(text)
    first = next(i for i, word in enumerate(words) if text.startswith(name, word.start))
    last = next(i for i, word in enumerate(words) if word.end == text.index(name) + len(name))
    assert can_end_span(words, first, last) == copyable
    assert bool(find_spans(text, words, name)) == copyable


def test_list_start_positions():
    words = segment("Sort these: List: pear, fig\nkiwi plum\nNow: , lime： yuzu")
    separators = (",", "and")
    # Sort(0) these(1) :(2) List(3) :(4) pear(5) ,(6) fig(7) | kiwi(8) plum(9)
    # | Now(10) :(11) ,(12) lime(13) ：(14) yuzu(15)
    allowed = first_copy_mask(words, separators).nonzero().flatten().tolist()
    # Before the first colon of a line, and on a line without one, any word but a colon may start.
    # After a colon, only the first word that is not a separator may start.
    assert allowed == [0, 1, 3, 5, 8, 9, 10, 13, 15]


def test_list_end_positions():
    words = segment("List: pear, fig and plum\nThen more: kiwi. Done")
    separators = (",", "and")
    # List(0) :(1) pear(2) ,(3) fig(4) and(5) plum(6) | Then(7) more(8) :(9) kiwi(10) .(11) Done(12)
    assert not list_may_end(words, 2, separators)
    assert not list_may_end(words, 4, separators)
    assert list_may_end(words, 6, separators)
    assert list_may_end(words, 10, separators)
    assert list_may_end(words, 12, separators)


def test_long_list_transcribed_to_its_end(reasoner):
    """A list longer than most training lists is copied whole, not cut short before its last words."""
    words = ("maple quartz harbor lantern ember willow quiver saffron tundra orchid velvet bramble cobalt "
             "meadow juniper falcon").split()
    result = reasoner.answer("Sort the following words alphabetically: List: " + " ".join(words))
    assert result.route == "solver", [a.outcome for a in result.attempts]
    assert result.answer == " ".join(sorted(words))


def test_transcribed_run_skips_an_earlier_mention(packs):
    """Targets copy the expression, not the "False" of "True or False?" before it."""
    words, copies = copy_steps(
        packs, "boolean_expressions", "Is the following expression True or False? False and not True",
        'token(1, "False"). token(2, "and"). token(3, "not"). token(4, "True").')
    copied = [step.fed_span[0] for step in copies]
    assert [words[i].text for i in copied] == ["False", "and", "not", "True"]
    assert copied == list(range(copied[0], copied[0] + 4))
    question_mark = next(i for i, word in enumerate(words) if word.text == "?")
    assert copied[0] > question_mark


@pytest.mark.parametrize("question, answer", [
    ("Sort the following words alphabetically: List: quince, mango, apricot and fig", "apricot fig mango quince"),
    # The instruction contains list-like words ("order", "List") before the list itself.
    ("Please put these words in alphabetical order: List: walnut hazel cedar birch alder",
     "alder birch cedar hazel walnut"),
    # The list's first word comes right after "List:" and must be copied too.
    ("Sort the following words alphabetically: List: ecru tansy basalt ochre", "basalt ecru ochre tansy"),
    ("((4 * -3 + 12) - (7 - -8 * 2)) =", "-23"),
    ("Complete the rest of the sequence, making sure that the parentheses are closed properly. Input: { < [ ( ) ] ( [",
     "] ) > }"),
])
def test_transcribing_packs_new_wording(reasoner, question, answer):
    """Lists with commas and "and", and expressions and sequences BBH does not hold, copy word after word."""
    result = reasoner.answer(question)
    assert result.route == "solver", [a.outcome for a in result.attempts]
    assert result.answer == answer


@pytest.mark.parametrize("item", UNSEEN, ids=lambda item: item["pack"])
def test_router_picks_the_pack(student, item):
    assert student.route(student.encode(item["question"]))[0][0] == item["pack"]


@pytest.mark.parametrize("item", UNSEEN, ids=lambda item: item["pack"])
def test_candidates_parse_and_are_ranked(student, packs, item):
    candidates = student.translate(item["question"], pack=item["pack"])
    assert candidates
    scores = [c.score for c in candidates]
    assert scores == sorted(scores, reverse=True)
    for candidate in candidates:
        facts = parse_facts(candidate.facts)
        check_facts(facts, packs[item["pack"]].inputs)
        assert render_facts(facts) == candidate.facts


@pytest.mark.parametrize("item", UNSEEN, ids=lambda item: item["question"][:40])
def test_unseen_question_answered_by_solver(reasoner, item):
    """Names, scenes and sizes that BBH never uses are answered correctly, and verified."""
    answer = reasoner.answer(item["question"])
    assert answer.route == "solver", [a.outcome for a in answer.attempts]
    assert answer.pack == item["pack"]
    assert answer.answer == item["answer"]


@pytest.mark.parametrize("beam_size", [1, 3])
def test_batched_translation_matches_single(student, beam_size):
    """Questions of different packs and lengths searched in one batch get the candidates each gets alone."""
    questions = [item["question"] for item in UNSEEN] + [""]
    batched = student.translate_many(questions, beam_size=beam_size)
    assert len(batched) == len(questions)
    assert batched[-1] == []
    for question, together in zip(questions, batched):
        alone = student.translate(question, beam_size=beam_size)
        assert [c.facts for c in together] == [c.facts for c in alone]
        assert [c.pack for c in together] == [c.pack for c in alone]
        assert [c.score for c in together] == pytest.approx([c.score for c in alone], abs=1e-4)


def test_routed_scores_add_router_log_probability(student):
    """A routed candidate scores its pack's log probability plus the score of the same translation forced to that pack."""
    # Short questions in new wording, for which the router is less than certain.
    for question in ["Sort these: pear apple fig", "How many fruits: two apples and a pear?"]:
        pack, probability = student.route(student.encode(question))[0]
        assert probability < 0.999  # else adding its log probability changes nothing measurable
        forced = {c.facts: c.score for c in student.translate(question, pack=pack, beam_size=3)}
        routed = [c for c in student.translate(question, beam_size=3) if c.pack == pack]
        assert routed
        for candidate in routed:
            assert candidate.score == pytest.approx(forced[candidate.facts] + math.log(probability), abs=1e-4)


SARCASM = """Which statement is sarcastic?
Options:
(A) Oh great, another Monday, just what I needed.
(B) Mondays are the first working day of the week."""


# Questions whose greedy translation the shipped student gets wrong, so that the beam search runs.
NEEDS_BEAM = [
    "Rin's rent was due on 05/01/2030, nine days ago. What is the date in two weeks in MM/DD/YYYY?\n"
    "Options:\n(A) 05/24/2030\n(B) 05/23/2030\n(C) 05/25/2030\n(D) 06/24/2030",
    "The concert was on 07/09/2029, a week ago. What is the date 3 days from today in MM/DD/YYYY?\n"
    "Options:\n(A) 07/19/2029\n(B) 07/18/2029\n(C) 07/16/2029\n(D) 08/19/2029",
]


def test_answer_many_matches_answer(reasoner):
    """A batch answers each question as answering it alone does: greedy, beam search and fallback."""
    questions = [item["question"] for item in UNSEEN[:3]] + [SARCASM] + NEEDS_BEAM + [
        item["question"] for item in UNSEEN[3:]]
    together = reasoner.answer_many(questions)
    assert together[3].route == "fallback"
    # The batch must exercise the batched beam search; pick other questions if a new student solves these greedily.
    assert all(len(answer.attempts) > 1 for answer in together[4:6])
    for question, answer in zip(questions, together):
        alone = reasoner.answer(question)
        assert (answer.answer, answer.route, answer.pack, answer.facts) == (alone.answer, alone.route, alone.pack,
                                                                           alone.facts)
        assert [a.facts for a in answer.attempts] == [a.facts for a in alone.attempts]
        assert answer.times["total"] >= answer.times["translate"] > 0


def test_batched_rationales_match_single(student):
    """Chains of thought written as one batch are those written one at a time, with and without options."""
    questions = [parse_question(text) for text in [SARCASM] + [item["question"] for item in UNSEEN]]
    encoded = [student.encode(question.text) for question in questions]
    domains = [()] * len(questions)
    domains[-1] = ("True", "False")  # a Boolean expression has no options, so its pack's domain is used
    together = student.rationale.answer_many(questions, encoded, domains)
    for question, states, domain, answer in zip(questions, encoded, domains, together):
        alone = student.rationale.answer(question, states, domain)
        assert answer.rationale == alone.rationale
        assert answer.answer == alone.answer


def test_option_scores_side_by_side_match_single(student):
    """Answers scored side by side get the scores they get alone, also when scoring copies question words."""
    model = student.rationale
    question = parse_question("Keoni is taller than Ngũgĩ, and Ngũgĩ is taller than Ana-Lucía. Who is the "
                              "shortest?\nOptions:\n(A) Ngũgĩ\n(B) Ana-Lucía\n(C) Keoni")
    encoded = student.encode(question.text)
    _, actions, reads = model.write(encoded)
    # Names the rationale vocabulary lacks, as an answer domain may hold: scoring copies them, which moves
    # each row's reading position. Option labels such as "(A)" are always in the vocabulary.
    options = [words_of(name) + ["."] for name in ("Ngũgĩ", "Ana-Lucía", "Keoni")]
    assert not any(name in model.index for name in ("Ngũgĩ", "Ana-Lucía", "Keoni"))
    together = model.score_continuations(encoded, actions, reads, options)
    for option, score in zip(options, together):
        assert score == pytest.approx(model.score_continuations(encoded, actions, reads, [option])[0], abs=1e-4)


def test_names_copied_exactly(reasoner):
    item = UNSEEN[0]
    answer = reasoner.answer(item["question"])
    for name in ("Ngũgĩ", "Ana-Lucía", "Dvořák", "Ísold"):
        assert f'"{name}"' in answer.facts


@pytest.fixture(scope="module")
def encoders():
    from reasoner.student.encoder import PretrainedEncoder

    return PretrainedEncoder(), PretrainedEncoder(use_transformers=True)


@pytest.mark.parametrize("text", [
    "Ann lies. Does Ann tell the truth?",
    "Zoë's café, O'Brien and 東京: naïve résumé\ttabs\u00a0and  spaces.\nNew line, 12/31/2024!",
    # Longer than one 510-token window, so the windows and their overlap are compared too.
    "Take 3 steps forward. Turn left. " * 120,
])
def test_compact_bert_matches_transformers(encoders, text):
    """The plain-torch BERT gives the token ids, offsets and word states that transformers gives."""
    compact, reference = encoders
    assert type(compact.model).__module__ == "reasoner.student.bert"
    ids, offsets = compact._tokenize(text)
    expected_ids, expected_offsets = reference._tokenize(text)
    assert list(ids) == list(expected_ids)
    assert [tuple(o) for o in offsets] == [tuple(o) for o in expected_offsets]
    words = segment(text)
    ours, theirs = compact.encode(text, words), reference.encode(text, words)
    assert torch.allclose(ours.states, theirs.states, atol=1e-4)
    assert torch.allclose(ours.pooled, theirs.pooled, atol=1e-5)


def test_missing_tensor_encoder_error(tmp_path):
    """A BERT checkpoint without one of its tensors is rejected with EncoderError, not half loaded."""
    from safetensors.torch import load_file, save_file

    from reasoner.student.encoder import EncoderError, PretrainedEncoder, default_base_model

    source = default_base_model()
    for name in ("config.json", "tokenizer.json", "special_tokens_map.json"):
        shutil.copy(source / name, tmp_path / name)
    tensors = load_file(str(source / "model.safetensors"))
    del tensors[next(name for name in tensors if name.endswith("encoder.layer.0.output.dense.weight"))]
    save_file(tensors, str(tmp_path / "model.safetensors"))
    with pytest.raises(EncoderError, match="cannot load the encoder"):
        PretrainedEncoder(tmp_path)


def copy_base_model(tmp_path: Path) -> Path:
    """Copy the default encoder checkpoint into ``tmp_path`` so that a test can alter it."""
    from reasoner.student.encoder import default_base_model

    target = tmp_path / "base"
    shutil.copytree(default_base_model(), target)
    return target


def test_corrupt_tokenizer_encoder_error(tmp_path):
    """A corrupt tokenizer.json raises EncoderError, as it does through transformers."""
    from reasoner.student.encoder import EncoderError, PretrainedEncoder

    base = copy_base_model(tmp_path)
    (base / "tokenizer.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(EncoderError):
        PretrainedEncoder(base)


def test_config_without_eps_loads(tmp_path):
    """A BERT config.json without layer_norm_eps loads, as transformers loads it with its 1e-12 default."""
    from reasoner.student.encoder import PretrainedEncoder

    base = copy_base_model(tmp_path)
    config = json.loads((base / "config.json").read_text(encoding="utf-8"))
    del config["layer_norm_eps"]
    (base / "config.json").write_text(json.dumps(config), encoding="utf-8")
    encoder = PretrainedEncoder(base)
    assert encoder.dim == 384


def test_tokenizer_config_case_followed(tmp_path):
    """With do_lower_case false in tokenizer_config.json, both paths give the same token ids."""
    from reasoner.student.encoder import PretrainedEncoder

    base = copy_base_model(tmp_path)
    settings = json.loads((base / "tokenizer_config.json").read_text(encoding="utf-8"))
    settings["do_lower_case"] = False
    (base / "tokenizer_config.json").write_text(json.dumps(settings), encoding="utf-8")
    compact = PretrainedEncoder(base)
    reference = PretrainedEncoder(base, use_transformers=True)
    # The compact path reads tokenizer.json's normalizer, so it hands this checkpoint to transformers.
    assert type(compact.model).__module__.startswith("transformers.")
    text = "Ann LIES. Zoë's Café"
    assert list(compact._tokenize(text)[0]) == list(reference._tokenize(text)[0])


def test_corrupt_rationale_model_error(tmp_path):
    """A corrupt rationale model raises ModelError, at load or at first use, not a safetensors error."""
    from reasoner.student import ModelError, StudentModel

    if not (MODEL_DIR / "rationale" / "model.safetensors").is_file():
        pytest.skip(f"no trained rationale model in {MODEL_DIR}")
    model = tmp_path / "student"
    shutil.copytree(MODEL_DIR, model)
    (model / "rationale" / "model.safetensors").write_bytes(b"\x00corrupt")
    with pytest.raises(ModelError):
        student = StudentModel.load(model)
        student.rationale  # noqa: B018 - the property loads the file


def test_half_checkpoint_encodes(tmp_path):
    """A float16 BERT checkpoint encodes a question, although the compact path keeps its float16 weights."""
    from safetensors.torch import load_file, save_file

    from reasoner.student.encoder import PretrainedEncoder
    from reasoner.student.words import segment

    base = copy_base_model(tmp_path)
    tensors = load_file(str(base / "model.safetensors"))
    save_file({name: tensor.half() for name, tensor in tensors.items()}, str(base / "model.safetensors"))
    text = "Ann lies. Does Ann tell the truth?"
    encoded = PretrainedEncoder(base).encode(text, segment(text))
    assert encoded.states.shape == (len(segment(text)), 384)


def test_hyperbaton_copies_each_word_once(student):
    """In a pack that reads its words forward, no candidate copies a word twice or reads back."""
    question = ("Which sentence has the correct adjective order:\nOptions:\n"
                "(A) tiny old round green Brazilian wool sweater\n(B) green wool tiny Brazilian old round sweater")
    words = segment(question)
    candidates = student.translate_many([question], "hyperbaton", 6)[0]
    assert candidates
    for candidate in candidates:
        position = -1
        for fact in parse_facts(candidate.facts):
            # The copied word must occur after the previous copy.
            later = [i for i, w in enumerate(words) if w.text == fact.args[2] and i > position]
            assert later, candidate.facts
            position = later[0]


def test_hyperbaton_elimination_past_unknown_adjective(reasoner):
    """An invented adjective cannot be placed, but an inversion of two known ones rules the other option out."""
    result = reasoner.answer("Which sentence has the correct adjective order:\nOptions:\n"
                             "(A) big old glimmerous red car\n(B) red old glimmerous big car")
    assert result.route == "solver", [(a.outcome, a.facts) for a in result.attempts]
    assert result.answer == "(A)"

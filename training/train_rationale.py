"""Training the fallback's rationale model on chains of thought.

Two sources give the chains of thought. Every training question with verified
facts (annotated, teacher-written or augmented) is solved once more with all
atoms shown, and its pack's verbaliser (:mod:`training.rationales`) writes one
from the derivation. For subtasks without a pack, the teacher's recorded
rationales are used, each kept at recording time only when it reaches the gold
answer. The rationale model learns to write them from the question alone,
copying question words where it can.
"""

from __future__ import annotations

import random
import time
from collections import Counter

import torch

from reasoner.packs import load_packs
from reasoner.question import parse_question
from reasoner.solver import Solver
from reasoner.student import RATIONALE_SUBDIR, NO_PACK
from reasoner.student.encoder import PretrainedEncoder
from reasoner.student.rationale import EOS, UNK, RationaleModel, words_of
from training.dataset import MAX_OCCURRENCES, Encoded, EncodingCache, Example, Step, augmented, collate, load_examples
from training.rationales import verbalise
from training.train import TrainConfig, optimize

# Words seen in fewer rationales than this are left to copying (or <unk>).
MIN_WORD_COUNT = 3
RATIONALE_ROUTE = "rationale"


class _Space:
    """The part of an action space that :func:`training.dataset.collate` reads."""

    def __init__(self, vocab: list[str]):
        self.vocab = vocab
        self.pack_names: list[str] = []


def build_rationales(examples: list[Example]) -> list[tuple[Example, str]]:
    """Return (example, rationale) for every example whose facts the solver verifies."""
    packs = load_packs()
    pairs = []
    with Solver() as solver:
        for example in examples:
            if example.facts is None or example.route == NO_PACK:
                continue
            result = solver.solve(packs[example.route], example.facts, parse_question(example.text), show_all=True)
            if not result.verified:
                continue
            rationale = verbalise(example.route, example.facts, result.atoms, result.answer)
            if rationale:
                pairs.append((example, rationale))
    return pairs


def teacher_rationales(bbh, subtasks: list[str] | None) -> list[tuple[Example, str]]:
    """Return (example, rationale) for the teacher rationales recorded for training questions."""
    from reasoner.bbh import SUBTASKS
    from training.annotate import RATIONALE_DIR
    from training.records import read_jsonl

    pairs = []
    for subtask in subtasks or SUBTASKS:
        for record in read_jsonl(RATIONALE_DIR / f"{subtask}.jsonl"):
            example = bbh.example(subtask, record["index"])
            if example.sha256 == record["input_sha256"]:
                pairs.append((Example(example.id, example.input, RATIONALE_ROUTE, None, "teacher-rationale",
                                      example.target), record["rationale"]))
    return pairs


def rationale_steps(index: dict[str, int], question_words, target: list[str]) -> list[Step]:
    steps = []
    read = -1
    for word in target + [EOS]:
        vocab = [index[word]] if word in index else []
        spans = [(i, i) for i, w in enumerate(question_words) if w.text == word] if word != EOS else []
        if not vocab and not spans:
            vocab = [index[UNK]]
        if spans:
            after = [s for s in spans if s[0] > read]
            fed_span = after[0] if after else spans[0]
            fed_vocab = -1
            read = fed_span[0]
        else:
            fed_span, fed_vocab = (-1, -1), vocab[0]
        # NOTE: every occurrence of the word is a target, but decoding reads on from the
        # one it picks, so a later occurrence puts the read position where training never was.
        steps.append(Step(0, None, 3, vocab, spans[:MAX_OCCURRENCES], fed_vocab, fed_span))
    return steps


def train_rationale(config: TrainConfig, echo=print, progress_factory=None) -> RationaleModel:
    """Train the rationale model and save it in ``config.output / "rationale"``."""
    from reasoner.bbh import BBH

    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    started = time.time()
    packs = load_packs()
    encoder = PretrainedEncoder(config.base_model)
    bbh = BBH(config.data) if config.data else None
    examples = load_examples(bbh, packs, config.subtasks, config.annotated_fraction, config.seed, config.synthetic,
                             config.record_dir)
    annotated = [e for e in examples if e.facts is not None]
    if config.max_examples is not None:
        annotated = annotated[: config.max_examples]
    annotated += augmented(annotated, packs, min(config.augment_copies, 2), config.seed)
    pairs = build_rationales(annotated)
    if bbh is not None:
        pairs += teacher_rationales(bbh, config.subtasks)
    if not pairs:
        raise RuntimeError("no verified example to verbalise; record teacher annotations first")

    counts = Counter(word for _, text in pairs for word in set(words_of(text)))
    vocab = [EOS, UNK] + sorted(word for word, count in counts.items() if count >= MIN_WORD_COUNT)
    model = RationaleModel.create(vocab, encoder.dim, **config.sizes)
    index = model.index
    cache = EncodingCache(config.cache)
    progress = progress_factory(len(pairs)) if progress_factory else None
    items = []
    for example, text in pairs:
        question = cache.get(encoder, example.text)
        rationale_example = Example(example.id, example.text, RATIONALE_ROUTE, None, example.origin)
        items.append(Encoded(rationale_example, question, rationale_steps(index, question.words, words_of(text))))
        if progress:
            progress.update(1)
    if progress:
        progress.close()
    cache.save()
    echo(f"rationales: {len(items)}, vocabulary: {len(vocab)} words, "
         f"parameters: {model.network.parameter_count():,}")

    space = _Space(vocab)
    network = model.network

    def sample(rng: random.Random) -> tuple:
        return (collate(rng.sample(items, min(config.batch_size, len(items))), space, [RATIONALE_ROUTE]),)

    output = config.output / RATIONALE_SUBDIR
    optimize(network, sample, config, output / "checkpoint.pt", random.Random(config.seed), echo)
    info = {"steps": config.steps, "batch_size": config.batch_size, "seed": config.seed, "rationales": len(items),
            "trained_parameters": model.network.parameter_count(), "wall_time_s": round(time.time() - started, 1)}
    model.save(output, info)
    (output / "checkpoint.pt").unlink(missing_ok=True)
    echo(f"saved the rationale model to {output} ({info['wall_time_s']:.0f} s)")
    return model

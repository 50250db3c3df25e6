"""Training examples for the student: questions joined with verified facts, as tensors.

An example is a question with its route (a pack, or ``none``) and, when a
verified annotation exists, its facts. :func:`target_steps` replays the facts
through the same :class:`~reasoner.student.actions.FactWriter` the decoder
uses, so training targets and decoding constraints cannot disagree. A copied
name or number reads one occurrence in the question, the one
:func:`nearest_path` chooses; a number the question does not write is its
vocabulary integer.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

import torch

from reasoner.bbh import BBH
from reasoner.facts import Constant, Fact, TranslationError, check_facts, parse_facts
from reasoner.packs import Pack
from reasoner.student import NO_PACK
from reasoner.student.actions import EOS, MAX_INT, ActionSpace, FactWriter
from reasoner.student.encoder import EncodedQuestion, PretrainedEncoder
from reasoner.student.model import WORD_FLAGS
from reasoner.student.words import MAX_SPAN_WORDS, Word, can_end_span, can_start_span, find_spans, segment
from training import augment
from training.annotate import RECORD_DIR, SYNTHETIC_DIR, record_path
from training.records import read_jsonl

log = logging.getLogger("reasoner")

# Span targets per step in a batch: one for the translator, several for the rationale model.
MAX_OCCURRENCES = 6


class AlignmentError(ValueError):
    """Facts that the student could not produce from the question (a name not found in it, say)."""


@dataclass
class Example:
    id: str
    text: str
    route: str
    facts: list[Fact] | None = None
    origin: str = "annotation"  # annotation, synthetic, augmented, route-only, cotrain
    target: str | None = None  # the gold answer, when known


@dataclass
class Step:
    slot: int
    vocab_allowed: tuple[int, ...] | None  # None: the whole vocabulary
    span_kind: int  # 0 none, 1 name, 2 number (a word of digits), 3 any single word
    vocab_targets: list[int]
    span_targets: list[tuple[int, int]]
    fed_vocab: int  # vocabulary action fed to the next step, -1 for a span
    fed_span: tuple[int, int]


def transcribed_run(pack: Pack, words: list[Word], facts: list[Fact]) -> list[tuple[int, int]] | None:
    """Return the word of each copy when a transcribing pack's facts copy one unbroken run, else None.

    The run passes over the pack's separators between two copies. The first
    value may also occur earlier in the question ("True or False?"), so the
    run starts at the first word from which all values match.
    """
    if not pack.consecutive:
        return None
    values = [str(arg) for fact in facts for arg, arg_type in zip(fact.args, pack.inputs[fact.predicate])
              if arg_type in ("word", "int")]
    for start in range(len(words)):
        positions, position = [], start
        for value in values:
            while positions and position < len(words) and words[position].text.lower() in pack.separators:
                position += 1
            if position >= len(words) or words[position].text != value:
                break
            positions.append((position, position))
            position += 1
        else:
            return positions
    return None


# Extra cost, in words, of a copy that reads backwards. A copy reads forward unless the
# nearest forward occurrence is this many words further away than the backward one.
BACKWARD_COST = 16
# Movement outweighs the tie-break, which prefers the first occurrence after the last copy.
_TIE = 1000


def nearest_path(candidates: list[list[tuple[int, int]]]) -> list[tuple[int, int]]:
    """Choose one span per copy so that the read position moves as little as possible in total.

    Reading starts before the first word. A step forward costs the words it skips; a
    step back costs the words it passes plus :data:`BACKWARD_COST`. A copy with one
    occurrence costs nothing to reach, since every path goes there, so an option's
    label does not pull the option's words towards it. Of two equally short paths,
    the one whose copies more often read the first occurrence after the last copy wins.

    Choosing by the whole path keeps a copy near the copies around it: a list of
    moves reads each "Take 5 steps" in turn, and a table's rows are read from the
    table. It does not keep every cell in its row: a cell that an example sentence
    under the table restates ("the age of Bo is 6") may be read from there.
    """
    if not candidates:
        return []

    def costs(read: int, spans: list[tuple[int, int]], starts: list[int]) -> list[int]:
        """Return the cost of reading each of ``spans`` (sorted by start) after word ``read``."""
        if len(spans) == 1:
            return [0]
        first_after = bisect.bisect_right(starts, read)
        greedy = first_after if first_after < len(spans) else 0
        return [_TIE * (start - read - 1 if start > read else read - start + BACKWARD_COST) + (i != greedy)
                for i, start in enumerate(starts)]

    candidates = [sorted(spans) for spans in candidates]
    starts = [[span[0] for span in spans] for spans in candidates]
    totals = costs(-1, candidates[0], starts[0])
    back: list[list[int]] = []
    for step in range(1, len(candidates)):
        # moves[i][j]: the cost of reading occurrence j after occurrence i of the previous copy.
        moves = [costs(span[1], candidates[step], starts[step]) for span in candidates[step - 1]]
        choices = [min(range(len(totals)), key=lambda i: totals[i] + moves[i][j]) for j in range(len(starts[step]))]
        totals = [totals[i] + moves[i][j] for j, i in enumerate(choices)]
        back.append(choices)
    index = min(range(len(totals)), key=totals.__getitem__)
    path = [index]
    for choices in reversed(back):
        index = choices[index]
        path.append(index)
    return [spans[i] for spans, i in zip(candidates, reversed(path))]


def target_steps(space: ActionSpace, pack: Pack, text: str, words: list[Word], facts: list[Fact]) -> list[Step]:
    """Return the decoding steps that write ``facts``; raise :class:`AlignmentError` when impossible.

    The steps are written twice: once to collect every occurrence each copy could
    read, then with the occurrences :func:`nearest_path` chooses. A transcribing
    pack's copies are fed in one unbroken run, as decoding will read them.
    """
    candidates: list[list[tuple[int, int]]] = []
    _write_steps(space, pack, text, words, facts, lambda spans: candidates.append(spans) or spans[0])
    run = transcribed_run(pack, words, facts) or []
    fixed = [[span] for span in run] + candidates[len(run):]
    chosen = iter(nearest_path(fixed))
    return _write_steps(space, pack, text, words, facts, lambda spans: next(chosen))


def _write_steps(space: ActionSpace, pack: Pack, text: str, words: list[Word], facts: list[Fact],
                 choose) -> list[Step]:
    """Replay ``facts`` through a :class:`FactWriter`; ``choose`` picks the occurrence each copy reads."""
    writer = FactWriter(space, pack)
    steps: list[Step] = []

    def add(vocab_targets: list[int], span_targets: list[tuple[int, int]]) -> None:
        spec = writer.expecting()
        kind = {None: 0, "name": 1, "number": 2, "word": 3}[spec.span]
        allowed_targets = [t for t in vocab_targets if t in spec.vocab]
        if not allowed_targets and not (span_targets and kind):
            raise AlignmentError(f"no allowed action writes the next part of {writer.text[-40:]!r}")
        # The target is the one action that is fed on, so the read position in training
        # is the one decoding reaches. A number is copied whenever the question writes it.
        if span_targets and kind:
            chosen = choose(span_targets)
            steps.append(Step(spec.slot, spec.vocab, kind, [], [chosen], -1, chosen))
        else:
            steps.append(Step(spec.slot, spec.vocab, kind, allowed_targets[:1], [], allowed_targets[0], (-1, -1)))

    for fact in facts:
        add([space.index[f"pred:{fact.predicate}"]], [])
        writer.apply_vocab(space.index[f"pred:{fact.predicate}"])
        for arg, arg_type in zip(fact.args, pack.inputs[fact.predicate]):
            if arg_type == "seq":
                if arg != writer.sequence:
                    raise AlignmentError(f"{fact.render()} is not numbered {writer.sequence} in writing order")
                continue
            if arg_type == "word":
                spans = [(i, i) for i, w in enumerate(words) if w.text == arg]
                if not spans:
                    raise AlignmentError(f"the word {arg!r} is not a word of the question")
                add([], spans)
                writer.apply_name(arg)
            elif arg_type == "name":
                spans = find_spans(text, words, arg)
                if not spans:
                    raise AlignmentError(f"the name {arg!r} is not written in the question")
                add([], spans)
                writer.apply_name(arg)
            elif arg_type == "int":
                vocab = [space.index[f"int:{arg}"]] if 0 <= arg <= MAX_INT else []
                spans = [(i, i) for i, w in enumerate(words) if w.is_digits and int(w.text) == arg]
                if not vocab and not spans:
                    raise AlignmentError(f"the number {arg} is neither written in the question nor at most {MAX_INT}")
                add(vocab, spans)
                if vocab and (not spans or steps[-1].fed_vocab >= 0):
                    writer.apply_vocab(vocab[0])
                else:
                    writer.apply_number(str(arg))
            else:
                token = space.index[f"const:{arg.name}"] if isinstance(arg, Constant) else -1
                add([token], [])
                writer.apply_vocab(token)
    add([space.index[EOS]], [])
    return steps


def load_examples(bbh: BBH | None, packs: dict[str, Pack], subtasks: list[str] | None = None,
                  annotated_fraction: float = 1.0, seed: int = 0, synthetic: bool = True,
                  record_dir: Path = RECORD_DIR) -> list[Example]:
    """Return the training examples: annotated questions, teacher-written ones, and route-only ones.

    ``annotated_fraction`` keeps that share of each subtask's annotations (the
    rest become route-only examples), for experiments with fewer teacher
    annotations. Without ``bbh`` only the teacher-written questions are used.
    """
    from reasoner.bbh import SUBTASKS

    rng = random.Random(seed)
    examples: list[Example] = []
    subtask_pack = {s: p for p in packs.values() for s in p.subtasks}
    for subtask in (subtasks or SUBTASKS) if bbh is not None else ():
        pack = subtask_pack.get(subtask)
        records = {r["index"]: r for r in read_jsonl(record_path(subtask, record_dir))} if pack else {}
        indices = sorted(records)
        rng.shuffle(indices)
        kept = set(indices[: round(annotated_fraction * len(indices))])
        for example in bbh.split(subtask, "train"):
            route = pack.name if pack else NO_PACK
            record = records.get(example.index) if example.index in kept else None
            if record is None:
                examples.append(Example(example.id, example.input, route, None, "route-only", example.target))
                continue
            if record["input_sha256"] != example.sha256:
                log.warning("%s: the record's input hash differs from the data; skipped", example.id)
                continue
            examples.append(Example(example.id, example.input, route, parse_facts(record["facts"]), "annotation",
                                    example.target))
    if synthetic:
        for pack in packs.values():
            for record in read_jsonl(SYNTHETIC_DIR / f"{pack.name}.jsonl"):
                examples.append(Example(f"synthetic/{record['id']}", record["question"], pack.name,
                                        parse_facts(record["facts"]), "synthetic", record["answer"]))
    return examples


def augmented(examples: list[Example], packs: dict[str, Pack], copies: int, seed: int) -> list[Example]:
    """Return ``copies`` augmented variants of every example that has facts.

    Teacher-written questions get twice as many: they carry the sizes and
    wordings that the benchmark's questions lack.
    """
    rng = random.Random(seed)
    out = []
    for example in examples:
        if example.facts is None or example.route == NO_PACK:
            continue
        pack = packs[example.route]
        name_positions = {(p, k) for p, types in pack.inputs.items() for k, t in enumerate(types) if t == "name"}
        for copy in range(copies * (2 if example.origin == "synthetic" else 1)):
            text, facts = augment.rename_entities(example.text, example.facts, name_positions, rng)
            if pack.name == "navigate":
                text, facts = augment.renumber_moves(text, facts, rng)
            if pack.name == "boolean_expressions":
                text, facts = augment.flip_constants(text, facts, rng)
            if text != example.text:
                out.append(Example(f"{example.id}#aug{copy}", text, example.route, facts, "augmented"))
    return out


@dataclass
class Encoded:
    """An example with its pretrained word states and decoding steps."""

    example: Example
    question: EncodedQuestion
    steps: list[Step] = field(default_factory=list)
    name_start_ok: list[bool] = field(default_factory=list)
    span_ok: list[list[bool]] = field(default_factory=list)


class EncodingCache:
    """Pretrained word states keyed by encoder checkpoint and question text, saved atomically between runs.

    An entry whose words are not the question's segmentation now, as after a
    change to the segmenter, is encoded again: stale word states would train the
    student on other words than decoding reads.

    NOTE: the key names the checkpoint's directory, not its weights, so delete the
    cache file after replacing a checkpoint in place. Entries are never removed,
    so the file keeps those of older keys until it is deleted.
    """

    def __init__(self, path: Path | None):
        self.path = path
        self.entries: dict[str, EncodedQuestion] = {}
        if path and path.exists():
            try:
                self.entries = torch.load(path, weights_only=False)
            except (OSError, RuntimeError, EOFError) as error:
                log.warning("ignored the unreadable encoding cache %s: %s", path, error)
        self.dirty = False

    def get(self, encoder: PretrainedEncoder, text: str) -> EncodedQuestion:
        key = hashlib.sha256(f"{Path(encoder.path).resolve()}\n{text}".encode("utf-8")).hexdigest()
        words = segment(text)
        if key not in self.entries or self.entries[key].words != words:
            encoded = encoder.encode(text, words)
            encoded.states = encoded.states.half()  # halves the cache; batches are built in float32
            self.entries[key] = encoded
            self.dirty = True
        return self.entries[key]

    def save(self) -> None:
        if self.path and self.dirty:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(".tmp")
            torch.save(self.entries, temporary)
            os.replace(temporary, self.path)
            self.dirty = False


def encode_examples(examples: list[Example], space: ActionSpace, packs: dict[str, Pack],
                    encoder: PretrainedEncoder, cache: EncodingCache, progress=None) -> list[Encoded]:
    """Encode examples and build their steps; drop (and count) those whose facts cannot be aligned."""
    encoded: list[Encoded] = []
    dropped: dict[str, int] = {}
    for example in examples:
        question = cache.get(encoder, example.text)
        item = Encoded(example, question)
        if example.facts is not None:
            pack = packs[example.route]
            words = question.words
            try:
                check_facts(example.facts, pack.inputs)
                item.steps = target_steps(space, pack, example.text, words, example.facts)
            except (AlignmentError, TranslationError) as error:
                dropped[example.origin] = dropped.get(example.origin, 0) + 1
                log.debug("%s: dropped: %s", example.id, error)
                if example.origin != "augmented":
                    log.warning("%s: dropped: %s", example.id, error)
                item.steps = []
            item.name_start_ok = [can_start_span(words, i) for i in range(len(words))]
            item.span_ok = [
                [i + l < len(words) and can_end_span(words, i, i + l) for l in range(MAX_SPAN_WORDS)]
                for i in range(len(words))
            ]
        encoded.append(item)
        if progress:
            progress.update(1)
    for origin, count in dropped.items():
        log.info("dropped %d %s examples whose facts do not align with the question", count, origin)
    return encoded


@dataclass
class Batch:
    states: torch.Tensor
    flags: torch.Tensor
    word_mask: torch.Tensor
    pooled: torch.Tensor
    route: torch.Tensor
    pack: torch.Tensor
    # Decoding steps; all zero-sized along T when no example in the batch has facts.
    slot: torch.Tensor
    previous_vocab: torch.Tensor
    previous_span: torch.Tensor
    read: torch.Tensor
    step_index: torch.Tensor
    step_mask: torch.Tensor
    vocab_allowed: torch.Tensor
    vocab_target: torch.Tensor
    start_allowed: torch.Tensor
    span_targets: torch.Tensor  # [B, T, K, 2], -1 padded
    end_allowed_name: torch.Tensor  # [B, N, L]
    span_kind: torch.Tensor

    def to(self, device: torch.device) -> "Batch":
        return Batch(**{name: value.to(device) for name, value in self.__dict__.items()})


def collate(items: list[Encoded], space: ActionSpace, routes: list[str]) -> Batch:
    b = len(items)
    n = max(len(item.question.words) for item in items)
    t = max((len(item.steps) for item in items), default=0)
    e = items[0].question.states.shape[1]
    v = len(space.vocab)
    k = MAX_OCCURRENCES

    states = torch.zeros(b, n, e)
    flags = torch.zeros(b, n, WORD_FLAGS)
    word_mask = torch.zeros(b, n, dtype=torch.bool)
    slot = torch.zeros(b, t, dtype=torch.long)
    previous_vocab = torch.full((b, t), v, dtype=torch.long)
    previous_span = torch.full((b, t, 2), -1, dtype=torch.long)
    read = torch.full((b, t), -1, dtype=torch.long)
    step_mask = torch.zeros(b, t, dtype=torch.bool)
    vocab_allowed = torch.zeros(b, t, v, dtype=torch.bool)
    vocab_target = torch.zeros(b, t, v, dtype=torch.bool)
    start_allowed = torch.zeros(b, t, n, dtype=torch.bool)
    span_targets = torch.full((b, t, k, 2), -1, dtype=torch.long)
    end_allowed_name = torch.zeros(b, n, MAX_SPAN_WORDS, dtype=torch.bool)
    span_kind = torch.zeros(b, t, dtype=torch.long)
    pack = torch.zeros(b, dtype=torch.long)

    for i, item in enumerate(items):
        words = item.question.words
        m = len(words)
        states[i, :m] = item.question.states.float()
        flags[i, :m] = item.question.flags
        word_mask[i, :m] = True
        if item.example.route in space.pack_names:
            pack[i] = space.pack_names.index(item.example.route)
        if not item.steps:
            continue
        name_ok = torch.tensor(item.name_start_ok or [False] * m, dtype=torch.bool)
        digit_ok = torch.tensor([w.is_digits for w in words], dtype=torch.bool)
        if item.span_ok:
            end_allowed_name[i, :m] = torch.tensor(item.span_ok, dtype=torch.bool)
        current_read = -1
        for j, step in enumerate(item.steps):
            slot[i, j] = step.slot
            read[i, j] = current_read
            step_mask[i, j] = True
            if step.vocab_allowed is None:
                vocab_allowed[i, j] = True
            else:
                vocab_allowed[i, j, list(step.vocab_allowed)] = True
            vocab_target[i, j, step.vocab_targets] = True
            span_kind[i, j] = step.span_kind
            if step.span_kind == 1:
                start_allowed[i, j, :m] = name_ok
            elif step.span_kind == 2:
                start_allowed[i, j, :m] = digit_ok
            elif step.span_kind == 3:
                start_allowed[i, j, :m] = True
            for o, span in enumerate(step.span_targets[:k]):
                span_targets[i, j, o] = torch.tensor(span)
            if j + 1 < len(item.steps):
                previous_vocab[i, j + 1] = step.fed_vocab
                previous_span[i, j + 1] = torch.tensor(step.fed_span)
            if step.fed_vocab < 0:
                current_read = step.fed_span[1]

    return Batch(
        states=states, flags=flags, word_mask=word_mask,
        pooled=torch.stack([item.question.pooled for item in items]).float(),
        route=torch.tensor([routes.index(item.example.route) for item in items]),
        pack=pack, slot=slot, previous_vocab=previous_vocab, previous_span=previous_span, read=read,
        step_index=torch.arange(t).expand(b, t), step_mask=step_mask, vocab_allowed=vocab_allowed,
        vocab_target=vocab_target, start_allowed=start_allowed, span_targets=span_targets,
        end_allowed_name=end_allowed_name, span_kind=span_kind,
    )

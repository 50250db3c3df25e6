"""Grammar-constrained beam search: question words in, ranked fact texts out.

Every hypothesis carries a :class:`~reasoner.student.actions.FactWriter`, which
feeds the Lark parser and says which actions may come next; only those are
scored. A span action is scored as its start word plus its end word given the
start, and only spans that may be copied as a name (or, for numbers, single
words of digits) are allowed. In a transcribing pack (``consecutive`` in its
pack.toml) a copy may only start at the word after the previous copy, and in
one whose list runs to the end of its line (``list_ends_line``) the translation
may not stop before the list ends.
Finished hypotheses are ranked by total log probability and deduplicated by
their text.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from reasoner.packs import Pack
from reasoner.student.actions import EOS, ActionSpace, FactWriter, SlotSpec
from reasoner.student.encoder import EncodedQuestion
from reasoner.student.model import NEG_INF, Student
from reasoner.student.words import MAX_SPAN_WORDS, can_end_span, can_start_span, span_text


@dataclass
class Candidate:
    pack: str
    facts: str
    score: float  # log probability of the translation, router included


@dataclass
class _Hypothesis:
    writer: FactWriter
    score: float
    previous_vocab: int
    previous_span: tuple[int, int]
    read: int
    row: int  # row of this hypothesis in the batched key/value caches


def start_masks(words, spec: SlotSpec) -> list[bool]:
    if spec.span == "name":
        return [can_start_span(words, i) for i in range(len(words))]
    if spec.span == "number":
        return [w.is_digits for w in words]
    if spec.span == "word":
        return [True] * len(words)
    return [False] * len(words)


def next_item(words, read: int, separators: tuple[str, ...]) -> int:
    """Return the position of the first word after ``read`` that is not a separator (``len(words)`` if none)."""
    position = read + 1
    while position < len(words) and words[position].text.lower() in separators:
        position += 1
    return position


def next_copy_mask(words, read: int, separators: tuple[str, ...]) -> torch.Tensor:
    """Return where the next copy of a transcribing pack may start: the first non-separator after ``read``."""
    mask = torch.zeros(len(words), dtype=torch.bool)
    position = next_item(words, read, separators)
    if position < len(words):
        mask[position] = True
    return mask


# Words that end a sentence, and so end a list that otherwise runs to the end of its line.
SENTENCE_ENDS = (".", "?", "!")


def list_may_end(words, read: int, separators: tuple[str, ...]) -> bool:
    """Return whether a transcription whose last copy is word ``read`` covers its whole list.

    It does when the next word that could be copied lies on another line, past the
    end of the question, or is the end of a sentence.
    """
    position = next_item(words, read, separators)
    return (position >= len(words) or words[position].line != words[read].line
            or words[position].text in SENTENCE_ENDS)


@torch.no_grad()
def beam_search(
    model: Student,
    space: ActionSpace,
    pack: Pack,
    question: str,
    encoded: EncodedQuestion,
    beam_size: int = 6,
    prior: float = 0.0,
    deadline: float | None = None,
) -> list[Candidate]:
    """Return up to ``beam_size`` translations of ``question`` for ``pack``, best first.

    ``prior`` is added to every score (the router's log probability of the pack).
    At ``deadline`` (a :func:`time.monotonic` value) the search stops and returns
    the translations finished so far, possibly none.
    """
    words = encoded.words
    if not words:
        return []
    n = len(words)
    mask = torch.ones(1, n, dtype=torch.bool)
    word_states = model.encode_words(encoded.states.unsqueeze(0), encoded.flags.unsqueeze(0), mask)
    memory = model.memory(word_states)
    pack_id = torch.tensor([space.pack_names.index(pack.name)])
    vocab_size = len(space.vocab)
    eos = space.vocab.index(EOS)
    max_steps = min(model.config.max_steps, 6 * n + 16)

    name_ok_cache: dict[str, list[bool]] = {}
    alive = [_Hypothesis(FactWriter(space, pack), prior, vocab_size, (-1, -1), -1, 0)]
    finished: list[Candidate] = []
    caches = None

    for step in range(max_steps):
        if not alive or (deadline is not None and time.monotonic() > deadline):
            break
        count = len(alive)
        specs = [h.writer.expecting() for h in alive]
        x = model.step_inputs(
            word_states.expand(count, -1, -1),
            torch.tensor([[h.previous_vocab] for h in alive]),
            torch.tensor([[h.previous_span] for h in alive]),
            torch.tensor([[s.slot] for s in specs]),
            pack_id.expand(count),
            torch.tensor([[h.read] for h in alive]),
            torch.full((count, 1), step),
        )
        hidden, caches = model.decode(
            x, [(k.expand(count, -1, -1, -1), v.expand(count, -1, -1, -1)) for k, v in memory],
            mask.expand(count, -1), caches,
        )
        read = torch.tensor([[h.read] for h in alive])
        slots = torch.tensor([[s.slot] for s in specs])
        vocab_logits, start_logits = model.action_logits(hidden, word_states.expand(count, -1, -1), read, slots)
        vocab_logits, start_logits = vocab_logits[:, 0], start_logits[:, 0]

        allowed_vocab = torch.zeros(count, vocab_size, dtype=torch.bool)
        allowed_start = torch.zeros(count, n, dtype=torch.bool)
        for i, spec in enumerate(specs):
            if spec.vocab:
                allowed_vocab[i, list(spec.vocab)] = True
                if pack.list_ends_line and alive[i].read >= 0 and not list_may_end(words, alive[i].read,
                                                                                    pack.separators):
                    allowed_vocab[i, eos] = False
            if spec.span:
                if spec.span not in name_ok_cache:
                    name_ok_cache[spec.span] = start_masks(words, spec)
                allowed_start[i] = torch.tensor(name_ok_cache[spec.span])
                if pack.consecutive and alive[i].read >= 0:
                    allowed_start[i] &= next_copy_mask(words, alive[i].read, pack.separators)
        joint = torch.cat([vocab_logits.masked_fill(~allowed_vocab, NEG_INF), start_logits.masked_fill(~allowed_start, NEG_INF)], dim=-1)
        log_probs = torch.log_softmax(joint, dim=-1)

        expansions: list[tuple[float, int, str, object]] = []
        for i, hypothesis in enumerate(alive):
            allowed_count = int(allowed_vocab[i].sum() + allowed_start[i].sum())
            if allowed_count == 0:
                continue
            top = torch.topk(log_probs[i], min(beam_size, allowed_count))
            for value, index in zip(top.values.tolist(), top.indices.tolist()):
                if value <= NEG_INF / 2:
                    continue
                if index < vocab_size:
                    expansions.append((hypothesis.score + value, i, "vocab", index))
                else:
                    first = index - vocab_size
                    for last, end_value in _span_ends(model, hidden[i:i + 1], word_states, words, first, specs[i]):
                        expansions.append((hypothesis.score + value + end_value, i, "span", (first, last)))

        expansions.sort(key=lambda item: item[0], reverse=True)
        next_alive: list[_Hypothesis] = []
        rows: list[int] = []
        for score, parent_index, kind, action in expansions:
            if len(next_alive) >= beam_size:
                break
            parent = alive[parent_index]
            writer = parent.writer.copy()
            if kind == "vocab":
                writer.apply_vocab(action)
                if writer.finished:
                    finished.append(Candidate(pack.name, writer.text, score))
                    continue
                child = _Hypothesis(writer, score, action, (-1, -1), parent.read, len(next_alive))
            else:
                first, last = action
                if specs[parent_index].span == "number":
                    writer.apply_number(words[first].text)
                else:
                    writer.apply_name(span_text(question, words, first, last))
                child = _Hypothesis(writer, score, -1, (first, last), last, len(next_alive))
            next_alive.append(child)
            rows.append(parent_index)

        best_alive = next_alive[0].score if next_alive else NEG_INF
        if len(finished) >= beam_size and max(c.score for c in finished) >= best_alive:
            break
        if next_alive:
            index = torch.tensor(rows)
            caches = [(k[index], v[index]) for k, v in caches]
        alive = next_alive

    unique: dict[str, Candidate] = {}
    for candidate in sorted(finished, key=lambda c: c.score, reverse=True):
        unique.setdefault(candidate.facts, candidate)
    return list(unique.values())[:beam_size]


def _span_ends(model, hidden, word_states, words, first: int, spec: SlotSpec) -> list[tuple[int, float]]:
    """Return (last word, log probability) of the allowed ends of a span starting at ``first``."""
    if spec.span in ("number", "word"):
        return [(first, 0.0)]
    logits = model.end_logits(hidden, word_states, torch.tensor([[first]]), torch.tensor([[spec.slot]]))[0, 0]
    allowed = torch.tensor(
        [first + l < len(words) and can_end_span(words, first, first + l) for l in range(MAX_SPAN_WORDS)]
    )
    if not allowed.any():
        return []
    log_probs = torch.log_softmax(logits.masked_fill(~allowed, NEG_INF), dim=-1)
    ranked = torch.argsort(log_probs, descending=True)[:3]
    return [(first + int(l), float(log_probs[l])) for l in ranked if allowed[l]]

"""Grammar-constrained beam search: question words in, ranked fact texts out.

Every hypothesis carries a :class:`~reasoner.student.actions.FactWriter`, which
feeds the Lark parser and says which actions may come next; only those are
scored. A span action is scored as its start word plus its end word given the
start, and only spans that may be copied as a name (or, for numbers, single
words of digits) are allowed. In a transcribing pack (``consecutive`` in its
pack.toml) a copy may only start at the word after the previous copy, and in
one whose list runs to the end of its line (``list_ends_line``) the translation
may not stop before the list ends. In one whose list follows a colon
(``list_after_colon``) no colon is copied and the first copy starts right
after the last colon before it on its line, so the transcription begins
neither inside the list nor in the words that introduce it. In a pack that
reads its words forward (``reads_forward``) each copy into a ``word`` argument
comes after the previous one, so no word is copied twice.
Finished hypotheses are ranked by total log probability and deduplicated by
their text. Several questions (or one question for several packs) can be
searched in one batch, which costs little more model time than one.
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
    job: int  # index of the search this hypothesis belongs to
    word_read: int = -1  # the last word copied into a "word" argument, for packs that read words forward


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


# Colons that introduce a list ("List: b a c"), ASCII and full-width.
COLONS = (":", "：")


def first_copy_mask(words, separators: tuple[str, ...]) -> torch.Tensor:
    """Return where the first copy of a list that follows a colon may start.

    A word may start the list when no colon comes before it on its line, or when
    it is the first non-separator after the last such colon. A colon itself never
    starts the list (see :func:`colon_free_mask`).
    """
    mask = colon_free_mask(words)
    colon = None
    for position, word in enumerate(words):
        if position and word.line != words[position - 1].line:
            colon = None
        if colon is not None and position != next_item(words, colon, separators):
            mask[position] = False
        if word.text in COLONS:
            colon = position
    return mask


def colon_free_mask(words) -> torch.Tensor:
    """Return the words that are not colons: a list that a colon introduces contains none.

    So a transcription that starts before the colon ("Please sort: List: b a")
    cannot run over it, and the list starts after the last colon of its sentence.
    """
    return torch.tensor([word.text not in COLONS for word in words], dtype=torch.bool)


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


@dataclass
class SearchJob:
    """One search of :func:`beam_search_many`: a question to translate for one pack."""

    pack: Pack
    question: str
    encoded: EncodedQuestion
    prior: float = 0.0  # added to every score (the router's log probability of the pack)


@torch.no_grad()
def beam_search_many(
    model: Student,
    space: ActionSpace,
    jobs: list[SearchJob],
    beam_size: int = 6,
    deadline: float | None = None,
) -> list[list[Candidate]]:
    """Return up to ``beam_size`` translations for each job, best first.

    The searches share their model calls: the hypotheses of every search are rows
    of one batch, and a question shorter than the longest is padded with words
    that are masked out. Each search keeps its own beam and stops on its own, so a
    job gets the translations it would get searched alone, unless the deadline
    stops the batch before that search would have ended. At ``deadline`` (a
    :func:`time.monotonic` value) every search stops and returns the translations
    finished so far, possibly none.
    """
    results: list[list[Candidate]] = [[] for _ in jobs]
    searched = [j for j, job in enumerate(jobs) if job.encoded.words]
    if not searched:
        return results
    width = max(len(jobs[j].encoded.words) for j in searched)
    # Per job, unpadded: word states [1, n, d] and their span-end keys.
    word_states: dict[int, torch.Tensor] = {}
    end_keys: dict[int, torch.Tensor] = {}
    padded_states = torch.zeros(len(jobs), width, model.config.d_model)
    padded_memory = [
        (torch.zeros(len(jobs), layer.heads, width, model.config.d_model // layer.heads),
         torch.zeros(len(jobs), layer.heads, width, model.config.d_model // layer.heads))
        for layer in model.layers
    ]
    masks = torch.zeros(len(jobs), width, dtype=torch.bool)
    for j in searched:
        n = len(jobs[j].encoded.words)
        encoded = jobs[j].encoded
        states = model.encode_words(encoded.states.unsqueeze(0), encoded.flags.unsqueeze(0),
                                    torch.ones(1, n, dtype=torch.bool))
        word_states[j] = states
        end_keys[j] = model.end_key(states)
        padded_states[j, :n] = states[0]
        for (k, v), (padded_k, padded_v) in zip(model.memory(states), padded_memory):
            padded_k[j, :, :n], padded_v[j, :, :n] = k[0], v[0]
        masks[j, :n] = True
    start_keys = model.start_key(padded_states)
    pack_ids = torch.tensor([space.pack_names.index(job.pack.name) for job in jobs])
    vocab_size = len(space.vocab)
    eos = space.vocab.index(EOS)
    max_steps = {j: min(model.config.max_steps, 6 * len(jobs[j].encoded.words) + 16) for j in searched}

    name_ok_cache: dict[tuple[int, str], torch.Tensor] = {}
    alive = [_Hypothesis(FactWriter(space, jobs[j].pack), jobs[j].prior, vocab_size, (-1, -1), -1, j)
             for j in searched]
    finished: list[list[Candidate]] = [[] for _ in jobs]
    caches = None
    composition: tuple[int, ...] = ()
    row_memory: list[tuple[torch.Tensor, torch.Tensor]] = []

    for step in range(max(max_steps.values())):
        if not alive or (deadline is not None and time.monotonic() > deadline):
            break
        count = len(alive)
        rows_job = torch.tensor([h.job for h in alive])
        specs = [h.writer.expecting() for h in alive]
        states = padded_states[rows_job]
        x = model.step_inputs(
            states,
            torch.tensor([[h.previous_vocab] for h in alive]),
            torch.tensor([[h.previous_span] for h in alive]),
            torch.tensor([[s.slot] for s in specs]),
            pack_ids[rows_job],
            torch.tensor([[h.read] for h in alive]),
            torch.full((count, 1), step),
        )
        if composition != (composition := tuple(h.job for h in alive)):
            # Gathering the cross-attention memory per row is costly; the rows' jobs seldom change.
            row_memory = [(k[rows_job], v[rows_job]) for k, v in padded_memory]
        hidden, caches = model.decode(x, row_memory, masks[rows_job], caches)
        read = torch.tensor([[h.read] for h in alive])
        slots = torch.tensor([[s.slot] for s in specs])
        vocab_logits, start_logits = model.action_logits(hidden, states, read, slots, start_keys[rows_job])
        vocab_logits, start_logits = vocab_logits[:, 0], start_logits[:, 0]

        allowed_vocab, allowed_start = _allowed_actions(alive, specs, jobs, vocab_size, width, eos, name_ok_cache)
        joint = torch.cat([vocab_logits.masked_fill(~allowed_vocab, NEG_INF),
                           start_logits.masked_fill(~allowed_start, NEG_INF)], dim=-1)
        log_probs = torch.log_softmax(joint, dim=-1)

        expansions: dict[int, list[tuple[float, int, str, object]]] = {}
        for i, hypothesis in enumerate(alive):
            job = jobs[hypothesis.job]
            own = expansions.setdefault(hypothesis.job, [])
            allowed_count = int(allowed_vocab[i].sum() + allowed_start[i].sum())
            if allowed_count == 0:
                continue
            top = torch.topk(log_probs[i], min(beam_size, allowed_count))
            for value, index in zip(top.values.tolist(), top.indices.tolist()):
                if value <= NEG_INF / 2:
                    continue
                if index < vocab_size:
                    own.append((hypothesis.score + value, i, "vocab", index))
                else:
                    first = index - vocab_size
                    for last, end_value in _span_ends(model, hidden[i:i + 1], word_states[hypothesis.job],
                                                      end_keys[hypothesis.job], job.encoded.words, first, specs[i]):
                        own.append((hypothesis.score + value + end_value, i, "span", (first, last)))

        next_alive: list[_Hypothesis] = []
        rows: list[int] = []
        for j, own in expansions.items():
            job = jobs[j]
            own.sort(key=lambda item: item[0], reverse=True)
            children: list[_Hypothesis] = []
            child_rows: list[int] = []
            for score, parent_index, kind, action in own:
                if len(children) >= beam_size:
                    break
                parent = alive[parent_index]
                writer = parent.writer.copy()
                if kind == "vocab":
                    writer.apply_vocab(action)
                    if writer.finished:
                        finished[j].append(Candidate(job.pack.name, writer.text, score))
                        continue
                    child = _Hypothesis(writer, score, action, (-1, -1), parent.read, j, parent.word_read)
                else:
                    first, last = action
                    if specs[parent_index].span == "number":
                        writer.apply_number(job.encoded.words[first].text)
                    else:
                        writer.apply_name(span_text(job.question, job.encoded.words, first, last))
                    word_read = last if specs[parent_index].span == "word" else parent.word_read
                    child = _Hypothesis(writer, score, -1, (first, last), last, j, word_read)
                children.append(child)
                child_rows.append(parent_index)
            best_alive = children[0].score if children else NEG_INF
            if len(finished[j]) >= beam_size and max(c.score for c in finished[j]) >= best_alive:
                continue  # this search is over: no live hypothesis can beat its finished ones
            if step + 1 >= max_steps[j]:
                continue  # this search has run out of steps
            next_alive += children
            rows += child_rows

        if next_alive and rows == list(range(len(rows))):
            # Each row continues itself (always so in greedy decoding): a view, where a gather would copy.
            caches = [(k[:len(rows)], v[:len(rows)]) for k, v in caches]
        elif next_alive:
            index = torch.tensor(rows)
            caches = [(k[index], v[index]) for k, v in caches]
        alive = next_alive

    for j in searched:
        unique: dict[str, Candidate] = {}
        for candidate in sorted(finished[j], key=lambda c: c.score, reverse=True):
            unique.setdefault(candidate.facts, candidate)
        results[j] = list(unique.values())[:beam_size]
    return results


def _allowed_actions(alive: list[_Hypothesis], specs: list[SlotSpec], jobs: list[SearchJob], vocab_size: int,
                     width: int, eos: int, name_ok_cache: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the vocabulary actions [rows, V] and span starts [rows, width] each hypothesis may take next.

    ``name_ok_cache`` keeps the start masks per job and span kind, and the colon
    masks per job, across steps.
    """
    allowed_vocab = torch.zeros(len(alive), vocab_size, dtype=torch.bool)
    allowed_start = torch.zeros(len(alive), width, dtype=torch.bool)
    for i, (hypothesis, spec) in enumerate(zip(alive, specs)):
        job = jobs[hypothesis.job]
        words, n = job.encoded.words, len(job.encoded.words)
        if spec.vocab:
            allowed_vocab[i, list(spec.vocab)] = True
            if job.pack.list_ends_line and hypothesis.read >= 0 and not list_may_end(words, hypothesis.read,
                                                                                      job.pack.separators):
                allowed_vocab[i, eos] = False
        if spec.span:
            key = (hypothesis.job, spec.span)
            if key not in name_ok_cache:
                name_ok_cache[key] = torch.tensor(start_masks(words, spec))
            allowed_start[i, :n] = name_ok_cache[key]
            if job.pack.consecutive and hypothesis.read >= 0:
                allowed_start[i, :n] &= next_copy_mask(words, hypothesis.read, job.pack.separators)
                if job.pack.list_after_colon:
                    key = (hypothesis.job, "colon free")
                    if key not in name_ok_cache:
                        name_ok_cache[key] = colon_free_mask(words)
                    allowed_start[i, :n] &= name_ok_cache[key]
            elif job.pack.list_after_colon:
                key = (hypothesis.job, "first copy")
                if key not in name_ok_cache:
                    name_ok_cache[key] = first_copy_mask(words, job.pack.separators)
                allowed_start[i, :n] &= name_ok_cache[key]
            if job.pack.reads_forward and spec.span == "word" and hypothesis.word_read >= 0:
                allowed_start[i, :hypothesis.word_read + 1] = False
    return allowed_vocab, allowed_start


def _span_ends(model, hidden, word_states, end_keys, words, first: int, spec: SlotSpec) -> list[tuple[int, float]]:
    """Return (last word, log probability) of the allowed ends of a span starting at ``first``."""
    if spec.span in ("number", "word"):
        return [(first, 0.0)]
    logits = model.end_logits(hidden, word_states, torch.tensor([[first]]), torch.tensor([[spec.slot]]),
                              end_keys)[0, 0]
    allowed = torch.tensor(
        [first + l < len(words) and can_end_span(words, first, first + l) for l in range(MAX_SPAN_WORDS)]
    )
    if not allowed.any():
        return []
    log_probs = torch.log_softmax(logits.masked_fill(~allowed, NEG_INF), dim=-1)
    ranked = torch.argsort(log_probs, descending=True)[:3]
    return [(first + int(l), float(log_probs[l])) for l in ranked if allowed[l]]

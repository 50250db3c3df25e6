"""The fallback's chain of thought: a pointer decoder that writes words and copies question words.

The rationale model has the same network shape as the translator
(:class:`~reasoner.student.model.Student`), with a vocabulary of words from
training rationales instead of fact actions, one slot, and single-word copy
actions: any question word may be copied, so names never seen in training come
out as written. It writes until it reaches ``So the answer is``; the answer is
then the option (or answer of the pack's domain) whose words the model scores
highest as the continuation. Without options or domain, it writes the answer.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from reasoner.question import Question
from reasoner.student.encoder import EncodedQuestion
from reasoner.student.model import NEG_INF, Student, StudentConfig
from reasoner.student.words import segment

EOS = "<eos>"
UNK = "<unk>"
ANSWER_CUE = ["So", "the", "answer", "is"]
MAX_WORDS = 400
_NO_SPACE_BEFORE = set(".,;:?!)")
_NO_SPACE_AFTER = set("(")


def words_of(text: str) -> list[str]:
    return [word.text for word in segment(text)]


def detokenize(words: list[str]) -> str:
    pieces: list[str] = []
    for word in words:
        if pieces and word not in _NO_SPACE_BEFORE and pieces[-1] not in _NO_SPACE_AFTER:
            pieces.append(" ")
        pieces.append(word)
    return "".join(pieces)


def _repeating(words: list[str], size: int = 8, times: int = 3) -> bool:
    """Return whether the last ``size`` words already occurred ``times`` times: greedy decoding is looping."""
    if len(words) < size * times:
        return False
    tail = words[-size:]
    count = sum(1 for i in range(len(words) - size + 1) if words[i:i + size] == tail)
    return count >= times


class RationaleModel:
    def __init__(self, network: Student, vocab: list[str]):
        self.network = network.eval()
        self.vocab = vocab
        self.index = {word: i for i, word in enumerate(vocab)}
        self._start = len(vocab)  # the action fed at the first step

    @classmethod
    def create(cls, vocab: list[str], encoder_dim: int, **sizes) -> "RationaleModel":
        config = StudentConfig(vocab_size=len(vocab), slot_count=1, pack_count=1, route_count=1,
                               encoder_dim=encoder_dim, max_steps=MAX_WORDS + 16, step_positions=True, **sizes)
        return cls(Student(config), vocab)

    @classmethod
    def load(cls, directory: Path) -> "RationaleModel | None":
        """Load the rationale model saved in ``directory``, or return None when there is none."""
        config_path, weights_path = directory / "config.json", directory / "model.safetensors"
        if not config_path.is_file() or not weights_path.is_file():
            return None
        saved = json.loads(config_path.read_text(encoding="utf-8"))
        network = Student(StudentConfig(**saved["network"]))
        network.load_state_dict({k: v.float() for k, v in load_file(str(weights_path)).items()}, assign=True)
        return cls(network, saved["vocab"])

    def save(self, directory: Path, info: dict | None = None) -> None:
        """Write config.json (sizes, vocabulary, training record ``info``) and float16 safetensors."""
        directory.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().to(torch.float16).contiguous() for k, v in self.network.state_dict().items()}
        temporary = directory / "model.safetensors.tmp"
        save_file(state, str(temporary))
        temporary.replace(directory / "model.safetensors")
        temporary = directory / "config.json.tmp"
        temporary.write_text(json.dumps({"network": self.network.config.to_dict(), "vocab": self.vocab,
                                         "info": info or {}}, ensure_ascii=False) + "\n", encoding="utf-8")
        temporary.replace(directory / "config.json")

    # -- running the network -------------------------------------------------

    def _prepare(self, encoded: EncodedQuestion):
        mask = torch.ones(1, len(encoded.words), dtype=torch.bool)
        words = self.network.encode_words(encoded.states.unsqueeze(0), encoded.flags.unsqueeze(0), mask)
        return words, self.network.memory(words), mask

    def _step_log_probs(self, hidden, words, read, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Return log probabilities [B, T, V + N] over vocabulary words and copies of question words.

        ``mask`` [B, N] marks the real words of padded rows; copies of the others are impossible.
        """
        vocab_logits, copy_logits = self.network.action_logits(hidden, words, read)
        if mask is not None:
            copy_logits = copy_logits.masked_fill(~mask[:, None, :], NEG_INF)
        return torch.log_softmax(torch.cat([vocab_logits, copy_logits], dim=-1), dim=-1)

    def _inputs(self, words, previous: list[int], reads: list[int], first_step: int):
        """Decoder inputs for actions ``previous`` (vocabulary id, or V + word index for a copy)."""
        vocab_size = len(self.vocab)
        previous_vocab = torch.tensor([[a if a < vocab_size else -1 for a in previous]])
        previous_span = torch.tensor([[[a - vocab_size] * 2 if a >= vocab_size else [-1, -1] for a in previous]])
        count = len(previous)
        return self.network.step_inputs(
            words, previous_vocab, previous_span, torch.zeros(1, count, dtype=torch.long),
            torch.zeros(1, dtype=torch.long), torch.tensor([reads]), torch.arange(first_step, first_step + count).unsqueeze(0),
        )

    def _prepare_many(self, encoded: list[EncodedQuestion]):
        """Return word states, cross-attention memory and word mask of several questions, padded to the longest."""
        width = max(len(e.words) for e in encoded)
        d_model = self.network.config.d_model
        words = torch.zeros(len(encoded), width, d_model)
        memory = [(torch.zeros(len(encoded), layer.heads, width, d_model // layer.heads),
                   torch.zeros(len(encoded), layer.heads, width, d_model // layer.heads))
                  for layer in self.network.layers]
        mask = torch.zeros(len(encoded), width, dtype=torch.bool)
        for row, question in enumerate(encoded):
            n = len(question.words)
            own_words, own_memory, _ = self._prepare(question)
            words[row, :n] = own_words[0]
            for (k, v), (padded_k, padded_v) in zip(own_memory, memory):
                padded_k[row, :, :n], padded_v[row, :, :n] = k[0], v[0]
            mask[row, :n] = True
        return words, memory, mask

    @torch.no_grad()
    def write(self, encoded: EncodedQuestion, stop_at_cue: bool = True) -> tuple[list[str], list[int], list[int]]:
        """Write a chain of thought greedily; return its words, actions and reading positions.

        With ``stop_at_cue`` the text ends at ``So the answer is``, for the caller to choose the answer.
        """
        return self.write_many([encoded], [stop_at_cue])[0]

    @torch.no_grad()
    def write_many(self, encoded: list[EncodedQuestion],
                   stop_at_cue: list[bool]) -> list[tuple[list[str], list[int], list[int]]]:
        """Write the chains of thought of several questions greedily, as rows of one batch.

        Each row gets what :meth:`write` gives its question alone: copies of padding
        words are masked out before the softmax, and a row leaves the batch when it stops.
        """
        results: list[tuple[list[str], list[int], list[int]]] = [([], [self._start], [-1]) for _ in encoded]
        live = [row for row, question in enumerate(encoded) if question.words]
        if not live:
            return results
        words, memory, mask = self._prepare_many([encoded[row] for row in live])
        vocab_size = len(self.vocab)
        batch_rows = list(range(len(live)))  # row of the padded batch for each live question
        caches = None
        for step in range(MAX_WORDS):
            index = torch.tensor(batch_rows)
            previous = [results[row][1][-1] for row in live]
            reads = [results[row][2][-1] for row in live]
            x = self.network.step_inputs(
                words[index], torch.tensor([[a if a < vocab_size else -1] for a in previous]),
                torch.tensor([[[a - vocab_size] * 2 if a >= vocab_size else [-1, -1]] for a in previous]),
                torch.zeros(len(live), 1, dtype=torch.long), torch.zeros(len(live), dtype=torch.long),
                torch.tensor([[r] for r in reads]), torch.full((len(live), 1), step),
            )
            hidden, caches = self.network.decode(x, [(k[index], v[index]) for k, v in memory], mask[index], caches)
            log_probs = self._step_log_probs(hidden, words[index], torch.tensor([[r] for r in reads]),
                                             mask[index])[:, 0]
            log_probs[:, self.index[UNK]] = NEG_INF
            chosen = torch.argmax(log_probs, dim=-1).tolist()
            keep = []
            for position, (row, action) in enumerate(zip(live, chosen)):
                output, actions, row_reads = results[row]
                if action == self.index[EOS]:
                    continue
                read = row_reads[-1]
                if action >= vocab_size:
                    read = action - vocab_size
                    output.append(encoded[row].words[read].text)
                else:
                    output.append(self.vocab[action])
                actions.append(action)
                row_reads.append(read)
                if stop_at_cue[row] and output[-len(ANSWER_CUE):] == ANSWER_CUE:
                    continue
                if _repeating(output):
                    continue
                keep.append(position)
            if not keep:
                break
            live = [live[position] for position in keep]
            batch_rows = [batch_rows[position] for position in keep]
            keep_rows = torch.tensor(keep)
            caches = [(k[keep_rows], v[keep_rows]) for k, v in caches]
        return results

    @torch.no_grad()
    def score_continuations(self, encoded: EncodedQuestion, actions: list[int], reads: list[int],
                            continuations: list[list[str]]) -> list[float]:
        """Return the log probability of each word sequence following the written prefix.

        The continuations are scored side by side, as rows of one batch, one word per step.
        """
        words, memory, mask = self._prepare(encoded)
        vocab_size = len(self.vocab)
        prefix = self._inputs(words, actions, reads, 0)
        hidden, caches = self.network.decode(prefix, memory, mask)
        sequences = [continuation + [EOS] for continuation in continuations]
        rows = len(sequences)
        if not rows:
            return []
        row_words = words.expand(rows, -1, -1)
        row_memory = [(k.expand(rows, -1, -1, -1), v.expand(rows, -1, -1, -1)) for k, v in memory]
        row_mask = mask.expand(rows, -1)
        state_hidden = hidden[:, -1:].expand(rows, -1, -1)
        state_caches = [(k.expand(rows, -1, -1, -1), v.expand(rows, -1, -1, -1)) for k, v in caches]
        row_reads = [reads[-1]] * rows
        totals = [0.0] * rows
        step = len(actions)
        for position in range(max(len(sequence) for sequence in sequences)):
            log_probs = self._step_log_probs(state_hidden, row_words, torch.tensor([[r] for r in row_reads]))[:, 0]
            fed = []
            for row, sequence in enumerate(sequences):
                if position >= len(sequence):
                    fed.append(self.index[EOS])  # this row is scored; what it reads next is never used
                    continue
                word = sequence[position]
                options = []
                if word in self.index:
                    options.append(self.index[word])
                options += [vocab_size + i for i, w in enumerate(encoded.words) if w.text == word]
                if not options:
                    options = [self.index[UNK]]
                totals[row] += float(torch.logsumexp(log_probs[row, options], dim=0))
                action = options[0]
                if action >= vocab_size:
                    row_reads[row] = action - vocab_size
                fed.append(action)
            x = self.network.step_inputs(
                row_words, torch.tensor([[a if a < vocab_size else -1] for a in fed]),
                torch.tensor([[[a - vocab_size] * 2 if a >= vocab_size else [-1, -1]] for a in fed]),
                torch.zeros(rows, 1, dtype=torch.long), torch.zeros(rows, dtype=torch.long),
                torch.tensor([[r] for r in row_reads]), torch.full((rows, 1), step),
            )
            state_hidden, state_caches = self.network.decode(x, row_memory, row_mask, state_caches)
            step += 1
        return totals

    def answer(self, question: Question, encoded: EncodedQuestion, domain: tuple[str, ...] = ()):
        """Return a :class:`~reasoner.fallback.FallbackAnswer`: the rationale and the chosen answer."""
        return self.answer_many([question], [encoded], [domain])[0]

    def answer_many(self, questions: list[Question], encoded: list[EncodedQuestion],
                    domains: list[tuple[str, ...]]) -> list:
        """Answer several questions as :meth:`answer` does one, writing their chains of thought as one batch."""
        from reasoner.fallback import FallbackAnswer

        choices = [[option.formatted() for option in question.options] or list(domain)
                   for question, domain in zip(questions, domains)]
        written_all = self.write_many(encoded, [bool(c) for c in choices])
        answers = []
        for own_choices, own_encoded, (written, actions, reads) in zip(choices, encoded, written_all):
            if own_choices and written[-len(ANSWER_CUE):] != ANSWER_CUE:
                written = written + ANSWER_CUE
                actions = actions + [self.index.get(w, self.index[UNK]) for w in ANSWER_CUE]
                reads = reads + [reads[-1]] * len(ANSWER_CUE)
            if own_choices:
                scores = self.score_continuations(own_encoded, actions, reads,
                                                  [words_of(c) + ["."] for c in own_choices])
                chosen = own_choices[max(range(len(own_choices)), key=scores.__getitem__)]
                answers.append(FallbackAnswer(detokenize(written + words_of(chosen) + ["."]), chosen))
                continue
            rationale = detokenize(written)
            if ANSWER_CUE[-1] in written:
                cue = len(written) - written[::-1].index(ANSWER_CUE[-1])
                free = detokenize(written[cue:]).rstrip(".").strip()
                answers.append(FallbackAnswer(rationale, free or None))
            else:
                answers.append(FallbackAnswer(rationale, None))
        return answers

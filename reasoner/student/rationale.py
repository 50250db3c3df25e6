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

    def _step_log_probs(self, hidden, words, read) -> torch.Tensor:
        """Return log probabilities [.., V + N] over vocabulary words and copies of question words."""
        vocab_logits, copy_logits = self.network.action_logits(hidden, words, read)
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

    @torch.no_grad()
    def write(self, encoded: EncodedQuestion, stop_at_cue: bool = True) -> tuple[list[str], list[int], list[int]]:
        """Write a chain of thought greedily; return its words, actions and reading positions.

        With ``stop_at_cue`` the text ends at ``So the answer is``, for the caller to choose the answer.
        """
        words, memory, mask = self._prepare(encoded)
        vocab_size = len(self.vocab)
        actions, reads, output = [vocab_size], [-1], []
        caches = None
        read = -1
        for step in range(MAX_WORDS):
            x = self._inputs(words, actions[-1:], reads[-1:], step)
            hidden, caches = self.network.decode(x, memory, mask, caches)
            log_probs = self._step_log_probs(hidden, words, torch.tensor([[read]]))[0, 0]
            log_probs[self.index[UNK]] = NEG_INF
            action = int(torch.argmax(log_probs))
            if action == self.index[EOS]:
                break
            if action >= vocab_size:
                read = action - vocab_size
                output.append(encoded.words[read].text)
            else:
                output.append(self.vocab[action])
            actions.append(action)
            reads.append(read)
            if stop_at_cue and output[-len(ANSWER_CUE):] == ANSWER_CUE:
                break
            if _repeating(output):
                break
        return output, actions, reads

    @torch.no_grad()
    def score_continuations(self, encoded: EncodedQuestion, actions: list[int], reads: list[int],
                            continuations: list[list[str]]) -> list[float]:
        """Return the log probability of each word sequence following the written prefix."""
        words, memory, mask = self._prepare(encoded)
        vocab_size = len(self.vocab)
        prefix = self._inputs(words, actions, reads, 0)
        hidden, caches = self.network.decode(prefix, memory, mask)
        scores = []
        for continuation in continuations:
            state_hidden, state_caches = hidden[:, -1:], caches
            read = reads[-1]
            total = 0.0
            step = len(actions)
            for word in continuation + [EOS]:
                log_probs = self._step_log_probs(state_hidden, words, torch.tensor([[read]]))[0, 0]
                options = []
                if word in self.index:
                    options.append(self.index[word])
                options += [vocab_size + i for i, w in enumerate(encoded.words) if w.text == word]
                if not options:
                    options = [self.index[UNK]]
                total += float(torch.logsumexp(log_probs[options], dim=0))
                action = options[0]
                if action >= vocab_size:
                    read = action - vocab_size
                x = self._inputs(words, [action], [read], step)
                state_hidden, state_caches = self.network.decode(x, memory, mask, state_caches)
                step += 1
            scores.append(total)
        return scores

    def answer(self, question: Question, encoded: EncodedQuestion, domain: tuple[str, ...] = ()):
        """Return a :class:`~reasoner.fallback.FallbackAnswer`: the rationale and the chosen answer."""
        from reasoner.fallback import FallbackAnswer

        choices = [option.formatted() for option in question.options] or list(domain)
        written, actions, reads = self.write(encoded, stop_at_cue=bool(choices))
        if choices and written[-len(ANSWER_CUE):] != ANSWER_CUE:
            written = written + ANSWER_CUE
            actions = actions + [self.index.get(w, self.index[UNK]) for w in ANSWER_CUE]
            reads = reads + [reads[-1]] * len(ANSWER_CUE)
        if choices:
            scores = self.score_continuations(encoded, actions, reads, [words_of(c) + ["."] for c in choices])
            chosen = choices[max(range(len(choices)), key=scores.__getitem__)]
            return FallbackAnswer(detokenize(written + words_of(chosen) + ["."]), chosen)
        rationale = detokenize(written)
        if ANSWER_CUE[-1] in written:
            cue = len(written) - written[::-1].index(ANSWER_CUE[-1])
            free = detokenize(written[cue:]).rstrip(".").strip()
            return FallbackAnswer(rationale, free or None)
        return FallbackAnswer(rationale, None)

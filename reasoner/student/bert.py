"""A BERT encoder for inference in plain torch, so that ``reason solve`` needs no ``transformers`` import.

Importing ``transformers``' BERT model pulls in most of the library and of
``torch.distributed``, which took more than half of ``reason solve``'s cold
start. This module runs the same computation (post-norm BERT with learned
absolute positions and exact GELU) from the checkpoint's ``config.json``,
``model.safetensors`` and ``tokenizer.json``. For a checkpoint it does not
cover, :func:`load` returns None and the caller uses ``transformers``.
``tests/test_student.py`` checks that both give the same token ids, offsets and
states.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F


# transformers' BertConfig defaults for the keys a config.json may leave out.
DEFAULTS = {"layer_norm_eps": 1e-12, "max_position_embeddings": 512, "type_vocab_size": 2}
REQUIRED = ("vocab_size", "hidden_size", "num_attention_heads", "num_hidden_layers", "intermediate_size")


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
        size, eps = config["hidden_size"], config.get("layer_norm_eps", DEFAULTS["layer_norm_eps"])
        self.words = nn.Embedding(config["vocab_size"], size)
        self.positions = nn.Embedding(config.get("max_position_embeddings", DEFAULTS["max_position_embeddings"]), size)
        self.types = nn.Embedding(config.get("type_vocab_size", DEFAULTS["type_vocab_size"]), size)
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
    if config.get("model_type") != "bert" or any(not isinstance(config.get(key), int) for key in REQUIRED):
        return False
    return (config.get("hidden_act", "gelu") == "gelu"
            and config.get("position_embedding_type", "absolute") == "absolute"
            and config["hidden_size"] % config["num_attention_heads"] == 0)


def load(path: Path):
    """Return ``(tokenizer, model, cls_id, sep_id)`` for the checkpoint at ``path``, or None if not covered.

    The tokenizer is the ``tokenizers`` library's, read from ``tokenizer.json``.
    ``transformers`` rebuilds the normalizer from ``tokenizer_config.json``, so a
    checkpoint whose settings there differ from ``tokenizer.json`` returns None.
    A missing tensor raises ``KeyError``, and an unreadable file ``ValueError``, so
    a checkpoint is never half loaded. Tensors BERT's encoder does not use (the
    pooler, a masked-language-model head) are ignored.
    """
    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    if not covers(config) or not (path / "tokenizer.json").is_file() or not (path / "model.safetensors").is_file():
        return None
    from safetensors.torch import load_file
    from tokenizers import Tokenizer

    settings = _read_json(path / "tokenizer_config.json")
    try:
        tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        normalizer = json.loads((path / "tokenizer.json").read_text(encoding="utf-8")).get("normalizer") or {}
        tensors = load_file(str(path / "model.safetensors"))
    except Exception as error:  # tokenizers and safetensors raise their own exception types
        raise ValueError(f"{type(error).__name__}: {error}") from None
    if not _same_normalizer(normalizer, settings):
        return None
    # A sentence-transformers tokenizer.json may truncate and pad to 128 tokens; the
    # encoder windows long questions itself and never pads.
    tokenizer.no_truncation()
    tokenizer.no_padding()
    special = {"cls_token": "[CLS]", "sep_token": "[SEP]"}
    for source in (settings, _read_json(path / "special_tokens_map.json")):
        for key in special:
            value = source.get(key)
            if value:
                special[key] = value["content"] if isinstance(value, dict) else value
    cls_id, sep_id = tokenizer.token_to_id(special["cls_token"]), tokenizer.token_to_id(special["sep_token"])
    if cls_id is None or sep_id is None:
        return None
    model = Bert(config)
    # Weights saved in float16 are computed in float32, as the encoder's outputs are.
    state = {name: tensor.float() for name, tensor in _renamed(tensors, config["num_hidden_layers"]).items()}
    model.load_state_dict(state, strict=True, assign=True)
    return tokenizer, model.eval(), cls_id, sep_id


def _read_json(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path.name} is not valid JSON: {error}") from None
    return value if isinstance(value, dict) else {}


def _same_normalizer(normalizer: dict, settings: dict) -> bool:
    """Return whether tokenizer_config.json's case and accent settings agree with tokenizer.json's normalizer."""
    if normalizer.get("type") != "BertNormalizer":
        return not settings  # with no BertNormalizer, only a checkpoint without settings is known to agree
    pairs = (("do_lower_case", "lowercase"), ("strip_accents", "strip_accents"),
             ("tokenize_chinese_chars", "handle_chinese_chars"))
    return all(key not in settings or settings[key] == normalizer.get(field) for key, field in pairs)

"""The student network: a word encoder over frozen pretrained states, a router and a pointer decoder.

The pretrained sentence encoder (see :mod:`reasoner.student.encoder`) turns the
question into one state per word. On top of it the student trains

* a word encoder: a projection, a few word flags and one transformer layer;
* a router: a small MLP over the pooled question embedding that picks the rule
  pack, or ``none`` when no pack fits;
* a pointer decoder: a transformer decoder whose every step scores the
  allowed vocabulary actions together with span starts (copy a name from the
  question), and then span ends for a chosen start.

Decoder inputs at each step are the previous action (a vocabulary embedding,
or the states of the copied span), the slot being filled (predicate and
argument position), the pack, the step's position, and the state of the last
word copied so far (where the student is reading). Pointer scores get a
learned bias by the distance from that word, which carries over to questions
longer than any seen in training.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from reasoner.student.words import MAX_SPAN_WORDS

# Word flags fed beside the pretrained states.
WORD_FLAGS = 4  # capitalised, digits, punctuation, first word of its line
DISTANCE_BUCKETS = 33  # offsets -15..+16 from the reading position, plus "nothing read yet"
NEG_INF = -1e9


@dataclass
class StudentConfig:
    vocab_size: int
    slot_count: int
    pack_count: int
    route_count: int
    encoder_dim: int = 384
    d_model: int = 192
    heads: int = 4
    decoder_layers: int = 3
    word_layers: int = 1
    ff_dim: int = 768
    dropout: float = 0.1
    max_steps: int = 512
    # Add sinusoidal step positions to decoder inputs. The translator leaves them
    # out: it locates itself by the word it last copied, which carries over to
    # questions longer than any in training, while absolute positions do not.
    step_positions: bool = False
    # Learn the pointer's distance and span-length biases per slot: the next list
    # item is one word on, the next name in a story several. False in students
    # saved before this option existed.
    slot_biases: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def distance_bucket(offset: torch.Tensor, has_position: torch.Tensor) -> torch.Tensor:
    """Map word offsets from the reading position to bucket ids (the last bucket: nothing read yet)."""
    bucket = offset.clamp(-15, 16) + 15
    return torch.where(has_position, bucket, torch.full_like(bucket, DISTANCE_BUCKETS - 1))


def sinusoid(length: int, dim: int) -> torch.Tensor:
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    scale = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(position * scale)
    table[:, 1::2] = torch.cos(position * scale)
    return table


class DecoderLayer(nn.Module):
    """A pre-norm transformer decoder layer that can run one step at a time with a key/value cache."""

    def __init__(self, config: StudentConfig):
        super().__init__()
        d, self.heads = config.d_model, config.heads
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.self_qkv = nn.Linear(d, 3 * d)
        self.self_out = nn.Linear(d, d)
        self.cross_q = nn.Linear(d, d)
        self.cross_kv = nn.Linear(d, 2 * d)
        self.cross_out = nn.Linear(d, d)
        self.ff = nn.Sequential(nn.Linear(d, config.ff_dim), nn.GELU(), nn.Linear(config.ff_dim, d))
        self.dropout = nn.Dropout(config.dropout)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        return x.view(b, t, self.heads, d // self.heads).transpose(1, 2)

    def _merge(self, x: torch.Tensor) -> torch.Tensor:
        b, h, t, dh = x.shape
        return x.transpose(1, 2).reshape(b, t, h * dh)

    def memory(self, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Project encoder states to cross-attention keys and values, once per question."""
        k, v = self.cross_kv(memory).chunk(2, dim=-1)
        return self._split(k), self._split(v)

    def forward(
        self,
        x: torch.Tensor,
        memory_kv: tuple[torch.Tensor, torch.Tensor],
        memory_mask: torch.Tensor,
        cache: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Run the layer on steps ``x`` [B, T, d]; with ``cache``, ``x`` continues the cached steps."""
        q, k, v = self.self_qkv(self.norm1(x)).chunk(3, dim=-1)
        q, k, v = self._split(q), self._split(k), self._split(v)
        if cache is not None:
            k = torch.cat([cache[0], k], dim=2)
            v = torch.cat([cache[1], v], dim=2)
        new_cache = (k, v)
        causal = cache is None and x.shape[1] > 1
        attended = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        x = x + self.dropout(self.self_out(self._merge(attended)))

        q = self._split(self.cross_q(self.norm2(x)))
        mask = memory_mask[:, None, None, :]
        attended = F.scaled_dot_product_attention(q, memory_kv[0], memory_kv[1], attn_mask=mask)
        x = x + self.dropout(self.cross_out(self._merge(attended)))
        x = x + self.dropout(self.ff(self.norm3(x)))
        return x, new_cache


class Student(nn.Module):
    def __init__(self, config: StudentConfig):
        super().__init__()
        self.config = config
        d = config.d_model

        # Word encoder.
        self.word_in = nn.Linear(config.encoder_dim + WORD_FLAGS, d)
        self.word_norm = nn.LayerNorm(d)
        layer = nn.TransformerEncoderLayer(
            d, config.heads, config.ff_dim, config.dropout, batch_first=True, norm_first=True
        )
        self.word_layers = nn.TransformerEncoder(layer, config.word_layers, enable_nested_tensor=False)

        # Router.
        self.router = nn.Sequential(
            nn.Linear(config.encoder_dim, 256), nn.GELU(), nn.Dropout(config.dropout), nn.Linear(256, config.route_count)
        )

        # Decoder inputs.
        self.vocab_embedding = nn.Embedding(config.vocab_size + 1, d)  # last row: start of output
        self.slot_embedding = nn.Embedding(config.slot_count, d)
        self.pack_embedding = nn.Embedding(config.pack_count, d)
        self.span_in = nn.Linear(2 * d, d)
        self.read_in = nn.Linear(d, d)
        self.no_read = nn.Parameter(torch.zeros(d))
        self.register_buffer("positions", sinusoid(config.max_steps, d), persistent=False)
        self.layers = nn.ModuleList(DecoderLayer(config) for _ in range(config.decoder_layers))
        self.out_norm = nn.LayerNorm(d)

        # Output heads.
        self.vocab_out = nn.Linear(d, config.vocab_size)
        self.start_query = nn.Linear(d, d)
        self.start_key = nn.Linear(d, d)
        bias_rows = config.slot_count if config.slot_biases else 1
        self.distance_bias = nn.Embedding(DISTANCE_BUCKETS * bias_rows, 1)
        self.end_query = nn.Linear(d, d)
        self.end_from_start = nn.Linear(d, d)
        self.end_key = nn.Linear(d, d)
        self.length_bias = nn.Embedding(MAX_SPAN_WORDS * bias_rows, 1)

    # -- encoder side ---------------------------------------------------------

    def encode_words(self, states: torch.Tensor, flags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Return word states [B, N, d] from pretrained states [B, N, E] and flags [B, N, F]."""
        x = self.word_norm(self.word_in(torch.cat([states, flags], dim=-1)))
        return self.word_layers(x, src_key_padding_mask=~mask)

    def route(self, pooled: torch.Tensor) -> torch.Tensor:
        """Return router logits [B, routes] from pooled question embeddings [B, E]."""
        return self.router(pooled)

    def memory(self, words: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [layer.memory(words) for layer in self.layers]

    # -- decoder side ---------------------------------------------------------

    def step_inputs(
        self,
        words: torch.Tensor,
        previous_vocab: torch.Tensor,
        previous_span: torch.Tensor,
        slot: torch.Tensor,
        pack: torch.Tensor,
        read: torch.Tensor,
        step: torch.Tensor,
    ) -> torch.Tensor:
        """Build decoder inputs [B, T, d].

        ``previous_vocab`` [B, T] is the previous vocabulary action (``vocab_size``
        at the first step, -1 when the previous action was a span);
        ``previous_span`` [B, T, 2] its first and last word (-1 when not a span);
        ``read`` [B, T] the last copied word so far (-1 before any); ``step`` [B, T]
        the step index.
        """
        batch = torch.arange(words.shape[0], device=words.device).unsqueeze(1)
        is_span = previous_span[..., 0] >= 0
        vocab_part = self.vocab_embedding(previous_vocab.clamp(min=0))
        first = words[batch, previous_span[..., 0].clamp(min=0)]
        last = words[batch, previous_span[..., 1].clamp(min=0)]
        span_part = self.span_in(torch.cat([first, last], dim=-1))
        x = torch.where(is_span.unsqueeze(-1), span_part, vocab_part)
        read_state = self.read_in(words[batch, read.clamp(min=0)])
        read_part = torch.where((read >= 0).unsqueeze(-1), read_state, self.no_read)
        x = x + read_part + self.slot_embedding(slot) + self.pack_embedding(pack).unsqueeze(1)
        if self.config.step_positions:
            x = x + self.positions[step.clamp(max=self.config.max_steps - 1)]
        return x

    def decode(
        self,
        x: torch.Tensor,
        memory: list[tuple[torch.Tensor, torch.Tensor]],
        word_mask: torch.Tensor,
        caches: list | None = None,
    ) -> tuple[torch.Tensor, list]:
        new_caches = []
        for i, layer in enumerate(self.layers):
            x, cache = layer(x, memory[i], word_mask, None if caches is None else caches[i])
            new_caches.append(cache)
        return self.out_norm(x), new_caches

    def action_logits(
        self, hidden: torch.Tensor, words: torch.Tensor, read: torch.Tensor, slot: torch.Tensor | None = None,
        keys: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return vocabulary logits [B, T, V] and span-start logits [B, T, N] (unmasked).

        ``slot`` [B, T] selects the per-slot distance bias when the config has ``slot_biases``.
        ``keys`` is ``start_key(words)`` when the caller has it already (decoding reuses it every step).
        """
        vocab = self.vocab_out(hidden)
        query = self.start_query(hidden)
        keys = self.start_key(words) if keys is None else keys
        start = torch.einsum("btd,bnd->btn", query, keys) / math.sqrt(query.shape[-1])
        offsets = torch.arange(words.shape[1], device=words.device).view(1, 1, -1) - read.unsqueeze(-1)
        bucket = distance_bucket(offsets, (read >= 0).unsqueeze(-1).expand_as(offsets))
        if self.config.slot_biases and slot is not None:
            bucket = bucket + (slot * DISTANCE_BUCKETS).unsqueeze(-1)
        start = start + self.distance_bias(bucket).squeeze(-1)
        return vocab, start

    def end_logits(
        self, hidden: torch.Tensor, words: torch.Tensor, starts: torch.Tensor, slot: torch.Tensor | None = None,
        keys: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Return span-end logits [..., L] for each start word in ``starts`` [...].

        ``hidden`` [..., d] and ``words`` [B, N, d]; the leading dimensions of
        ``hidden``, ``starts`` and ``slot`` match and begin with B. Entry ``l``
        scores the span that ends ``l`` words after its start (unmasked).
        ``keys`` is ``end_key(words)`` when the caller has it already.
        """
        batch_shape = starts.shape
        b = words.shape[0]
        flat_starts = starts.reshape(b, -1)
        n = words.shape[1]
        offsets = torch.arange(MAX_SPAN_WORDS, device=words.device)
        ends = (flat_starts.unsqueeze(-1) + offsets).clamp(max=n - 1)  # [B, S, L]
        batch = torch.arange(b, device=words.device).view(b, 1, 1)
        end_keys = (self.end_key(words) if keys is None else keys)[batch, ends]  # [B, S, L, d]
        start_states = words[torch.arange(b, device=words.device).view(b, 1), flat_starts.clamp(min=0)]  # [B, S, d]
        query = self.end_query(hidden.reshape(b, -1, hidden.shape[-1])) + self.end_from_start(start_states)
        scores = torch.einsum("bsd,bsld->bsl", query, end_keys) / math.sqrt(query.shape[-1])
        if self.config.slot_biases and slot is not None:
            rows = self.length_bias.weight.view(-1, MAX_SPAN_WORDS)[slot.reshape(b, -1)]  # [B, S, L]
            scores = scores + rows
        else:
            scores = scores + self.length_bias.weight[:MAX_SPAN_WORDS].view(1, 1, -1)
        return scores.view(*batch_shape, MAX_SPAN_WORDS)

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())

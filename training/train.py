"""Training the student on verified teacher annotations, top to bottom.

1. Load the training examples: annotated BBH training questions (joined with
   their text from the data folder), teacher-written questions, and route-only
   questions of subtasks that no pack serves.
2. Augment the annotated ones (new names, counts and constants).
3. Encode every question once with the frozen pretrained encoder (cached).
4. Train the word encoder, router and pointer decoder with AdamW, a linear
   warm-up and cosine decay, one log line per ``log_every`` steps.
5. Save the student (safetensors) and a training record in its config.

A checkpoint is written atomically every ``checkpoint_every`` steps; a run
started again with the same output directory resumes from it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Callable

import torch

from reasoner.bbh import BBH
from reasoner.packs import load_packs
from reasoner.paths import DEFAULT_BBH_DIR, MODEL_DIR, ROOT, TRAINING_DIR
from reasoner.student import StudentModel
from reasoner.student.encoder import PretrainedEncoder
from reasoner.student.model import NEG_INF, Student
from training.dataset import (
    Batch, Encoded, EncodingCache, augmented, collate, encode_examples, load_examples,
)
from training.records import records_version

log = logging.getLogger("reasoner")


@dataclass
class TrainConfig:
    output: Path = MODEL_DIR
    data: Path | None = DEFAULT_BBH_DIR  # None: train on the teacher-written questions only
    base_model: Path | None = None
    steps: int = 2500
    batch_size: int = 32
    router_batch_size: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    warmup: int = 100
    augment_copies: int = 4
    annotated_fraction: float = 1.0
    synthetic: bool = True
    subtasks: list[str] | None = None
    seed: int = 0
    threads: int = 2
    log_every: int = 50
    checkpoint_every: int = 250
    max_examples: int | None = None  # cap on annotated examples, for quick runs and tests
    sizes: dict = field(default_factory=dict)  # StudentConfig overrides (d_model, decoder_layers, ...)
    cache: Path | None = ROOT / ".cache" / "encodings.pt"
    record_dir: Path = TRAINING_DIR / "records"  # where the verified teacher annotations are read
    extra_examples: list = field(default_factory=list)  # more Example objects (co-training targets)


# Fields that change where or how often a run writes, not what it learns.
NOT_FINGERPRINTED = ("output", "cache", "threads", "log_every", "checkpoint_every", "extra_examples")


def config_fingerprint(config: TrainConfig) -> str:
    """Return a hash of everything in ``config`` that decides what a run learns, co-training targets included."""
    settings = {f.name: repr(getattr(config, f.name)) for f in fields(config) if f.name not in NOT_FINGERPRINTED}
    settings["extra_examples"] = sorted((e.id, repr(e.facts)) for e in config.extra_examples)
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode("utf-8")).hexdigest()


def translation_loss(model: Student, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
    """Return the mean negative log likelihood of the target actions over all steps of the batch."""
    words = model.encode_words(batch.states, batch.flags, batch.word_mask)
    memory = model.memory(words)
    x = model.step_inputs(words, batch.previous_vocab, batch.previous_span, batch.slot, batch.pack,
                          batch.read, batch.step_index)
    hidden, _ = model.decode(x, memory, batch.word_mask)
    vocab_logits, start_logits = model.action_logits(hidden, words, batch.read, batch.slot)

    vocab_masked = vocab_logits.masked_fill(~batch.vocab_allowed, NEG_INF)
    start_masked = start_logits.masked_fill(~batch.start_allowed, NEG_INF)
    log_z = torch.logsumexp(torch.cat([vocab_masked, start_masked], dim=-1), dim=-1)

    vocab_target = torch.logsumexp(vocab_logits.masked_fill(~batch.vocab_target, NEG_INF), dim=-1)

    starts = batch.span_targets[..., 0]
    ends = batch.span_targets[..., 1]
    valid = starts >= 0
    start_score = torch.gather(start_logits, 2, starts.clamp(min=0))
    b, t, k = starts.shape
    expanded = hidden.unsqueeze(2).expand(b, t, k, hidden.shape[-1])
    slots = batch.slot.unsqueeze(-1).expand(b, t, k)
    end_logits = model.end_logits(expanded, words, starts.clamp(min=0), slots)  # [B, T, K, L]
    batch_index = torch.arange(b, device=starts.device).view(b, 1, 1)
    end_ok = batch.end_allowed_name[batch_index, starts.clamp(min=0)]  # [B, T, K, L]
    number_ok = torch.zeros_like(end_ok)
    number_ok[..., 0] = True
    # Numbers (kind 2) and copied rationale words (kind 3) are spans of one word.
    is_number = (batch.span_kind >= 2).view(b, t, 1, 1)
    end_ok = torch.where(is_number, number_ok, end_ok)
    end_log_probs = torch.log_softmax(end_logits.masked_fill(~end_ok, NEG_INF), dim=-1)
    offset = (ends - starts).clamp(min=0, max=end_logits.shape[-1] - 1)
    end_score = torch.gather(end_log_probs, 3, offset.unsqueeze(-1)).squeeze(-1)
    span_score = (start_score + end_score).masked_fill(~valid, NEG_INF)

    target = torch.logsumexp(torch.cat([vocab_target.unsqueeze(-1), span_score], dim=-1), dim=-1)
    losses = (log_z - target)[batch.step_mask]
    loss = losses.mean() if losses.numel() else hidden.sum() * 0.0
    return loss, {"steps": float(losses.numel())}


def router_loss(model: Student, pooled: torch.Tensor, routes: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(model.route(pooled), routes)


class Objective(torch.nn.Module):
    """The training losses as one module, so that accelerate (DDP) can wrap its forward.

    ``forward(batch)`` returns the translation loss; with ``pooled`` and
    ``routes`` it adds the router loss.
    """

    def __init__(self, network: Student):
        super().__init__()
        self.network = network

    def forward(self, batch: Batch, pooled: torch.Tensor | None = None,
                routes: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        loss, _ = translation_loss(self.network, batch)
        losses = {"loss": loss}
        if pooled is not None and routes is not None:
            losses["router"] = router_loss(self.network, pooled, routes)
        return losses


def learning_rate(step: int, config: TrainConfig) -> float:
    if step < config.warmup:
        return config.learning_rate * (step + 1) / config.warmup
    progress = (step - config.warmup) / max(1, config.steps - config.warmup)
    return config.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def _save_checkpoint(path: Path, network: Student, optimizer, step: int, rng_state, fingerprint: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    torch.save({"network": network.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                "rng": rng_state, "fingerprint": fingerprint}, temporary)
    os.replace(temporary, path)


def _accelerator():
    """Return an ``accelerate.Accelerator`` under ``accelerate launch`` (or torchrun), else None."""
    launched = any(name.startswith("ACCELERATE_") for name in os.environ) or int(os.environ.get("WORLD_SIZE", "1")) > 1
    if not launched:
        return None
    from accelerate import Accelerator

    return Accelerator()


def _to_device(value, device):
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, Batch):
        return value.to(device)
    return value


def optimize(network: torch.nn.Module, sample: Callable[[random.Random], tuple], config: TrainConfig,
             checkpoint: Path, rng: random.Random, echo: Callable[[str], None]) -> None:
    """Run the optimizer loop: AdamW, warm-up and cosine decay, clipping, logging and checkpoints.

    ``sample`` draws the arguments of one :class:`Objective` call (a batch,
    and optionally router inputs) with ``rng``; the named losses it returns
    are summed for the update and averaged per name in the log lines. A
    checkpoint (network, optimizer, step, sampler state) is resumed from when
    present and written by a run of the same configuration (:func:`config_fingerprint`);
    a checkpoint of another configuration, such as an earlier co-training round
    in the same folder, is ignored and overwritten. Under ``accelerate launch`` the same loop runs data-parallel on
    every device: each process samples its own batches, and only the main
    process logs and writes checkpoints.
    """
    accelerator = _accelerator()
    objective = Objective(network)
    optimizer = torch.optim.AdamW(network.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    first_step = 0
    fingerprint = config_fingerprint(config)
    state = torch.load(checkpoint, weights_only=False) if checkpoint.exists() else None
    if state is not None and state.get("fingerprint") != fingerprint:
        echo(f"ignored {checkpoint}: it was written by a run with other settings or data")
        state = None
    if state is not None:
        network.load_state_dict(state["network"])
        optimizer.load_state_dict(state["optimizer"])
        first_step = state["step"]
        rng.setstate(state["rng"])
        echo(f"resumed from {checkpoint} at step {first_step}")
    device = torch.device("cpu")
    main = True
    if accelerator is not None:
        objective, optimizer = accelerator.prepare(objective, optimizer)
        device, main = accelerator.device, accelerator.is_main_process
        rng.seed(config.seed * 1000 + accelerator.process_index + first_step)

    objective.train()
    sums: dict[str, float] = {}
    window_start, window_steps = time.time(), 0
    for step in range(first_step, config.steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, config)
        losses = objective(*(_to_device(value, device) for value in sample(rng)))
        optimizer.zero_grad(set_to_none=True)
        total = sum(losses.values())
        if accelerator is not None:
            accelerator.backward(total)
            accelerator.clip_grad_norm_(objective.parameters(), 1.0)
        else:
            total.backward()
            torch.nn.utils.clip_grad_norm_(objective.parameters(), 1.0)
        optimizer.step()

        for name, value in losses.items():
            sums[name] = sums.get(name, 0.0) + value.item()
        window_steps += 1
        done = step + 1
        if main and (done % config.log_every == 0 or done == config.steps):
            parts = " | ".join(f"{name} {total / window_steps:.4f}" for name, total in sums.items())
            seconds = (time.time() - window_start) / window_steps
            echo(f"step {done:5d}/{config.steps} | {parts} | lr {learning_rate(step, config):.2e} | {seconds:.2f} s/step")
            sums, window_start, window_steps = {}, time.time(), 0
        if main and done % config.checkpoint_every == 0 and done < config.steps:
            _save_checkpoint(checkpoint, network, optimizer, done, rng.getstate(), fingerprint)
    if accelerator is not None:
        accelerator.wait_for_everyone()
    network.cpu().eval()


def prepare(config: TrainConfig, encoder: PretrainedEncoder, packs, progress_factory=None):
    """Load, augment and encode the examples; return (translation examples, router examples, counts)."""
    bbh = BBH(config.data) if config.data else None
    examples = load_examples(bbh, packs, config.subtasks, config.annotated_fraction, config.seed, config.synthetic,
                             config.record_dir)
    examples += list(config.extra_examples)
    annotated = [e for e in examples if e.facts is not None]
    if config.max_examples is not None:
        rng = random.Random(config.seed)
        rng.shuffle(annotated)
        annotated = annotated[: config.max_examples]
        route_only = [e for e in examples if e.facts is None][: config.max_examples]
        examples = annotated + route_only
    extra = augmented(annotated, packs, config.augment_copies, config.seed)
    everything = examples + extra
    cache = EncodingCache(config.cache)
    progress = progress_factory(len(everything)) if progress_factory else None
    space = StudentModel.create(packs, encoder).space
    encoded = encode_examples(everything, space, packs, encoder, cache, progress)
    if progress:
        progress.close()
    cache.save()
    translation = [item for item in encoded if item.steps]
    counts = {
        "annotated": sum(1 for e in examples if e.facts is not None and e.origin == "annotation"),
        "synthetic": sum(1 for e in examples if e.origin == "synthetic"),
        "cotrained": sum(1 for e in examples if e.origin == "cotrain"),
        "augmented": len(extra),
        "route_only": sum(1 for e in examples if e.facts is None),
        "translation_examples": len(translation),
    }
    return translation, encoded, counts


def train(config: TrainConfig, progress_factory=None, echo=print) -> StudentModel:
    """Train a student by ``config`` and save it to ``config.output``."""
    torch.manual_seed(config.seed)
    random.seed(config.seed)
    torch.set_num_threads(config.threads)
    started = time.time()
    # Before the records are read, as they may change meanwhile.
    records, code = records_version(config.record_dir), records_version(ROOT)

    packs = load_packs()
    encoder = PretrainedEncoder(config.base_model)
    student = StudentModel.create(packs, encoder, **config.sizes)
    network = student.network
    translation, everything, counts = prepare(config, encoder, packs, progress_factory)
    if not translation:
        raise RuntimeError("no training example has verified facts; record teacher annotations first")
    echo(f"examples: {counts}")
    echo(f"parameters: {network.parameter_count():,} trained, {sum(p.numel() for p in encoder.model.parameters()):,} frozen in the encoder")

    rng = random.Random(config.seed)

    def sample(rng: random.Random) -> tuple:
        items: list[Encoded] = rng.sample(translation, min(config.batch_size, len(translation)))
        routed = rng.sample(everything, min(config.router_batch_size, len(everything)))
        pooled = torch.stack([item.question.pooled for item in routed]).float()
        labels = torch.tensor([student.routes.index(item.example.route) for item in routed])
        return collate(items, student.space, student.routes), pooled, labels

    optimize(network, sample, config, config.output / "checkpoint.pt", rng, echo)

    info = {
        "seed": config.seed,
        "steps": config.steps,
        "batch_size": config.batch_size,
        "learning_rate": config.learning_rate,
        "augment_copies": config.augment_copies,
        "annotated_fraction": config.annotated_fraction,
        "examples": counts,
        "trained_parameters": network.parameter_count(),
        "wall_time_s": round(time.time() - started, 1),
        "threads": config.threads,
        "base_model": encoder.path.name,
        "records": records,
        "code": code,
        "fingerprint": config_fingerprint(config),
    }
    student.save(config.output, info)
    (config.output / "checkpoint.pt").unlink(missing_ok=True)
    echo(f"saved the student to {config.output} ({info['wall_time_s']} s)")
    return student

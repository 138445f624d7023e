"""Pretraining (masked language modelling) and fine-tuning for the transformer path.

Both loops are plain torch (AdamW, linear warm-up then linear decay, gradient
clipping, bf16 autocast on CUDA), seeded, with tqdm progress bars and an
optional time budget: when the first steps show that the planned steps will not
fit in `max_minutes`, the schedule is shortened so the learning rate still
decays to zero in time.

    pretrain_mlm(texts, out_dir)            a compact character BERT from unlabeled text
    fine_tune(texts, labels, label_order)    a sequence classifier from our pretrained model,
                                             any local Hugging Face checkpoint, or from scratch
"""
from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ..errors import NlpError
from . import PRETRAINED_FORMAT, TRANSFORMER_FORMAT, pick_device, require_torch
from .model import FORMAT_VERSION, TransformerClassifier, hf_config_dict, pad_batch, save_weights
from .tokenizer import CharTokenizer, load_tokenizer

logger = logging.getLogger(__name__)


@dataclass
class Architecture:
    """Shape of a character BERT we build ourselves (pretraining, or fine-tuning from scratch)."""
    hidden_size: int = 256
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    intermediate_size: int = 1024
    max_position_embeddings: int = 512
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1

    def bert_config(self, vocab_size: int, pad_id: int, **extra: Any):
        from transformers import BertConfig
        return BertConfig(vocab_size=vocab_size, pad_token_id=pad_id, type_vocab_size=1, **asdict(self), **extra)


@dataclass
class Schedule:
    epochs: float = 4.0
    batch_size: int = 64
    lr: float | None = None          # None: 2e-4 for our small models, 5e-5 for a Hugging Face checkpoint
    weight_decay: float = 0.01
    warmup: float = 0.06             # fraction of steps
    max_length: int = 128
    seed: int = 42
    device: str | None = None
    max_minutes: float | None = None  # shorten the schedule to fit this budget
    class_weight_power: float = 0.5  # loss weights (n / (k · count)) ** power; 0 = unweighted


@dataclass
class PretrainSchedule(Schedule):
    epochs: float = 20.0
    batch_size: int = 256
    lr: float | None = 5e-4
    warmup: float = 0.04
    mask_prob: float = 0.15
    heldout: float = 0.01            # fraction of blocks kept out to report masked-token accuracy


@dataclass
class TrainResult:
    seconds: float
    steps: int
    epochs_done: float
    final_loss: float
    device: str
    history: list[dict[str, float]] = field(default_factory=list)


def seed_everything(seed: int) -> None:
    import torch
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def _optimizer(model, schedule: Schedule, lr: float):
    import torch
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if param.ndim < 2 or "LayerNorm" in name or "layer_norm" in name else decay).append(param)
    groups = [{"params": decay, "weight_decay": schedule.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    fused = {"fused": True} if next(model.parameters()).is_cuda else {}
    return torch.optim.AdamW(groups, lr=lr, **fused)


class _LinearSchedule:
    """Warm-up then linear decay; `total` can shrink mid-run to honour a time budget."""

    def __init__(self, optimizer, lr: float, total: int, warmup: float):
        self.optimizer, self.lr, self.total = optimizer, lr, max(1, total)
        self.warmup = max(1, int(self.total * warmup))
        self.step_no = 0

    def step(self) -> None:
        self.step_no += 1
        if self.step_no < self.warmup:
            factor = self.step_no / self.warmup
        else:
            factor = max(0.0, (self.total - self.step_no) / max(1, self.total - self.warmup))
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr * factor

    def fit_budget(self, per_step: float, remaining: float) -> None:
        """Cut `total` so the steps left fit in the `remaining` seconds at `per_step` seconds each."""
        affordable = self.step_no + int(remaining / max(per_step, 1e-6))
        if affordable < self.total:
            logger.warning("time budget: %d of %d planned steps fit", affordable, self.total)
            self.total = max(self.step_no + 1, affordable)
            self.warmup = min(self.warmup, max(1, self.total // 10))


def _autocast(device: str):
    import contextlib
    import torch
    if device.startswith("cuda"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _train_loop(model, batches: Callable[[np.random.Generator], Any], n_batches: int, schedule: Schedule,
                lr: float, device: str, loss_fn, desc: str) -> TrainResult:
    """Shared optimisation loop: `batches(rng)` yields one epoch of batches, `loss_fn(model, batch)` the loss."""
    import torch
    total = max(1, int(math.ceil(n_batches * schedule.epochs)))
    optimizer = _optimizer(model, schedule, lr)
    plan = _LinearSchedule(optimizer, lr, total, schedule.warmup)
    rng = np.random.default_rng(schedule.seed)
    started = time.monotonic()
    budget = schedule.max_minutes * 60 if schedule.max_minutes else None
    history: list[dict[str, float]] = []
    running, step, mark = 0.0, 0, started
    model.train()
    bar = tqdm(total=total, desc=desc, unit="step", mininterval=2.0)
    while step < plan.total:
        for batch in batches(rng):
            with _autocast(device):
                loss = loss_fn(model, batch)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            plan.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            value = float(loss.detach()) if step % 25 == 0 or step == plan.total else None
            if value is not None:
                running = value if not history else 0.9 * running + 0.1 * value
                history.append({"step": step, "loss": round(value, 4), "seconds": round(time.monotonic() - started, 1)})
                bar.set_postfix(loss=f"{running:.3f}")
            bar.update(1)
            # The first steps pay for CUDA start-up and allocator warm-up: time steps 20–120 instead.
            if budget and step in (20, 120):
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                now = time.monotonic()
                if step == 20:
                    mark = now
                else:
                    plan.fit_budget((now - mark) / 100, budget - (now - started))
                    bar.total = plan.total
            if step >= plan.total:
                break
    bar.close()
    model.eval()
    return TrainResult(seconds=round(time.monotonic() - started, 1), steps=step,
                       epochs_done=round(step / max(1, n_batches), 2),
                       final_loss=history[-1]["loss"] if history else float("nan"), device=device, history=history)


# --- fine-tuning ---------------------------------------------------------------
def fine_tune(texts: Sequence[str], labels: Sequence[str], label_order: Sequence[str], *, task: str,
              init: str | Path | None = None, architecture: Architecture | None = None,
              schedule: Schedule | None = None, extra_config: dict[str, Any] | None = None
              ) -> tuple[TransformerClassifier, TrainResult]:
    """Fine-tune a sequence classifier.

    init: a directory from `yuqing nlp pretrain` (our character BERT), any local Hugging Face
    checkpoint (hfl/rbt3, bert-base-chinese …), or None to start from random weights with a
    character vocabulary built from `texts`.
    """
    require_torch()
    import torch
    import torch.nn.functional as F

    schedule = schedule or Schedule()
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    order = list(label_order)
    unknown = sorted(set(labels) - set(order))
    if unknown:
        raise ValueError(f"labels {unknown} are not in label_order {order}")
    device = pick_device(schedule.device)
    seed_everything(schedule.seed)
    id2label = {i: lab for i, lab in enumerate(order)}
    label2id = {lab: i for i, lab in id2label.items()}
    model, tokenizer, init_info = _initial_model(init, texts, order, id2label, label2id,
                                                 architecture or Architecture())
    max_positions = getattr(model.config, "max_position_embeddings", schedule.max_length)
    max_length = min(schedule.max_length, max_positions)
    lr = schedule.lr or (2e-4 if init_info["kind"] != "huggingface" else 5e-5)
    model.to(device)

    encoded = tokenizer.encode(list(texts), max_length)
    y = np.array([label2id[lab] for lab in labels])
    counts = np.bincount(y, minlength=len(order)).astype(np.float64)
    weights = np.where(counts > 0, (len(y) / (len(order) * np.maximum(counts, 1))) ** schedule.class_weight_power, 0)
    class_weights = torch.tensor(weights, dtype=torch.float32, device=device)
    n_batches = max(1, math.ceil(len(y) / schedule.batch_size))

    def batches(rng: np.random.Generator):
        perm = rng.permutation(len(y))
        for start in range(0, len(perm), schedule.batch_size):
            rows = perm[start:start + schedule.batch_size]
            ids, mask = pad_batch([encoded[i] for i in rows], tokenizer.pad_id, device)
            yield ids, mask, torch.as_tensor(y[rows], device=device)

    def loss_fn(m, batch):
        ids, mask, gold = batch
        logits = m(input_ids=ids, attention_mask=mask).logits
        return F.cross_entropy(logits.float(), gold, weight=class_weights)

    logger.info("fine-tuning %s", task, extra={"examples": len(y), "device": device, "init": init_info, "lr": lr})
    result = _train_loop(model, batches, n_batches, schedule, lr, device, loss_fn, f"fine-tune {task}")
    config = {
        "format": TRANSFORMER_FORMAT, "format_version": FORMAT_VERSION, "task": task, "labels": order,
        "tokenizer": {"type": tokenizer.kind, "normalization": "NFKC, lower case"
                      + ("; one token per character, whitespace dropped" if tokenizer.kind == "char" else "")},
        "inference": {"max_length": max_length, "batch_size": 64, "quantize": "none"},
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "library_versions": library_versions(),
        "training": {"init": init_info, "schedule": {**asdict(schedule), "lr": lr, "device": device},
                     "result": {k: v for k, v in asdict(result).items() if k != "history"}},
        **(extra_config or {}),
    }
    classifier = TransformerClassifier(config, model, tokenizer, device=device)
    return classifier, result


def _initial_model(init, texts, order, id2label, label2id, architecture: Architecture):
    from transformers import AutoModelForSequenceClassification, BertForSequenceClassification
    if init is None:
        tokenizer = CharTokenizer.build(texts)
        config = architecture.bert_config(tokenizer.vocab_size, tokenizer.pad_id, num_labels=len(order),
                                          id2label=id2label, label2id=label2id)
        return BertForSequenceClassification(config), tokenizer, {"kind": "scratch", **asdict(architecture)}
    init = Path(init)
    if not (init / "config.json").is_file():
        raise NlpError(f"--init {init}: no config.json there; give a directory from `yuqing nlp pretrain` or a "
                       "local Hugging Face checkpoint (hubs are never contacted)")
    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            str(init), num_labels=len(order), id2label=id2label, label2id=label2id,
            local_files_only=True, ignore_mismatched_sizes=True)
    except (OSError, ValueError) as exc:
        raise NlpError(f"--init {init}: cannot load a model from it ({exc})") from None
    model = model.float()
    import json
    raw = json.loads((init / "config.json").read_text(encoding="utf-8"))
    ours = raw.get("format") == PRETRAINED_FORMAT
    tokenizer = load_tokenizer(init, "char" if ours or raw.get("tokenizer", {}).get("type") == "char" else None)
    for key in ("format", "format_version", "tokenizer", "pretraining", "created_at", "library_versions",
                "training", "metrics"):
        if hasattr(model.config, key):
            delattr(model.config, key)   # keep the pretraining record out of the task model's HF config
    info = {"kind": "pretrained" if ours else "huggingface", "path": str(init)}
    if ours:
        info["pretraining"] = {k: raw.get("pretraining", {}).get(k) for k in ("corpus", "result", "metrics")}
    return model, tokenizer, info


# --- pretraining ---------------------------------------------------------------
def pack_blocks(tokenizer: CharTokenizer, texts: Sequence[str], block_size: int) -> np.ndarray:
    """Texts joined by [SEP] and cut into [CLS] + (block_size-1) id blocks: no padding is wasted."""
    body = block_size - 1
    stream: list[int] = []
    for text in tqdm(texts, desc="encode corpus", unit="text", mininterval=2.0):
        ids = tokenizer.encode_stream(text)
        if ids:
            stream.extend(ids)
            stream.append(tokenizer.sep_id)
    n_blocks = len(stream) // body
    if n_blocks == 0:
        raise ValueError(f"corpus too small: {len(stream)} tokens for blocks of {block_size}")
    array = np.asarray(stream[: n_blocks * body], dtype=np.int32).reshape(n_blocks, body)
    return np.hstack([np.full((n_blocks, 1), tokenizer.cls_id, dtype=np.int32), array])


def mask_tokens(ids, tokenizer: CharTokenizer, mask_prob: float, generator):
    """BERT masking: mask_prob of the non-special tokens; 80% [MASK], 10% random, 10% kept."""
    import torch
    labels = ids.clone()
    special = ids < len(tokenizer.special_ids)   # special tokens come first in our vocabulary
    chosen = (torch.rand(ids.shape, generator=generator, device=ids.device) < mask_prob) & ~special
    labels[~chosen] = -100
    inputs = ids.clone()
    roll = torch.rand(ids.shape, generator=generator, device=ids.device)
    inputs[chosen & (roll < 0.8)] = tokenizer.mask_id
    randomize = chosen & (roll >= 0.8) & (roll < 0.9)
    random_ids = torch.randint(len(tokenizer.special_ids), tokenizer.vocab_size, ids.shape,
                               generator=generator, device=ids.device)
    inputs[randomize] = random_ids[randomize]
    return inputs, labels


def masked_lm_loss(model, inputs, labels):
    """MLM loss with the vocabulary projection run on the masked positions only.

    BertForMaskedLM projects every position onto the vocabulary; with 15% masking that is
    most of a small model's compute and memory traffic, spent on positions without a label.
    """
    import torch.nn.functional as F
    hidden = model.bert(input_ids=inputs).last_hidden_state
    chosen = labels != -100
    logits = model.cls(hidden[chosen])
    return F.cross_entropy(logits.float(), labels[chosen])


def pretrain_mlm(texts: Sequence[str], out_dir: str | Path, *, architecture: Architecture | None = None,
                 schedule: PretrainSchedule | None = None, corpus_info: dict[str, Any] | None = None,
                 min_char_count: int = 3, max_vocab: int = 12000, card: Callable[[dict], str] | None = None
                 ) -> dict[str, Any]:
    """Pretrain a character BERT with masked language modelling and save it to out_dir."""
    require_torch()
    import torch
    from transformers import BertForMaskedLM

    architecture = architecture or Architecture()
    schedule = schedule or PretrainSchedule()
    device = pick_device(schedule.device)
    seed_everything(schedule.seed)
    if device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True
    tokenizer = CharTokenizer.build(texts, min_count=min_char_count, max_size=max_vocab)
    block_size = min(schedule.max_length, architecture.max_position_embeddings)
    blocks = pack_blocks(tokenizer, texts, block_size)
    rng = np.random.default_rng(schedule.seed)
    rng.shuffle(blocks)
    n_held = max(1, int(len(blocks) * schedule.heldout)) if len(blocks) > 20 else 0
    held, train = blocks[:n_held], blocks[n_held:]
    model = BertForMaskedLM(architecture.bert_config(tokenizer.vocab_size, tokenizer.pad_id)).to(device)
    train_t = torch.as_tensor(train, dtype=torch.long, device=device)
    generator = torch.Generator(device=device).manual_seed(schedule.seed)
    n_batches = max(1, math.ceil(len(train) / schedule.batch_size))

    def batches(np_rng: np.random.Generator):
        perm = torch.as_tensor(np_rng.permutation(len(train)), device=device)
        for start in range(0, len(perm), schedule.batch_size):
            yield train_t[perm[start:start + schedule.batch_size]]

    def loss_fn(m, batch):
        inputs, labels = mask_tokens(batch, tokenizer, schedule.mask_prob, generator)
        return masked_lm_loss(m, inputs, labels)

    logger.info("pretraining", extra={"blocks": len(train), "block_size": block_size, "vocab": tokenizer.vocab_size,
                                      "device": device})
    result = _train_loop(model, batches, n_batches, schedule, schedule.lr or 5e-4, device, loss_fn, "pretrain mlm")
    metrics = _mlm_heldout(model, held, tokenizer, schedule, device) if n_held else {}
    config = {
        **hf_config_dict(model.config.to_dict()),
        "format": PRETRAINED_FORMAT, "format_version": FORMAT_VERSION,
        "tokenizer": {"type": "char", "normalization": "NFKC, lower case; one token per character, whitespace dropped",
                      "min_char_count": min_char_count},
        "pretraining": {"corpus": corpus_info or {"texts": len(texts)},
                        "blocks": {"train": len(train), "heldout": n_held, "block_size": block_size,
                                   "tokens": int(train.size)},
                        "architecture": asdict(architecture), "schedule": {**asdict(schedule), "device": device},
                        "result": {k: v for k, v in asdict(result).items() if k != "history"},
                        "loss_curve": result.history[:: max(1, len(result.history) // 40)],
                        "metrics": metrics},
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "library_versions": library_versions(),
    }
    config.pop("torch_dtype", None)
    config.pop("dtype", None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_weights(model, out / "model.safetensors")
    tokenizer.save(out)
    import json
    (out / "config.json").write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    if card is not None:
        (out / "README.md").write_text(card(config), encoding="utf-8")
    return config


def _mlm_heldout(model, held: np.ndarray, tokenizer, schedule: PretrainSchedule, device: str) -> dict[str, float]:
    """Masked-token accuracy and loss on blocks never trained on (fixed seed)."""
    import torch
    generator = torch.Generator(device=device).manual_seed(12345)
    correct = total = 0
    losses = []
    with torch.inference_mode():
        for start in range(0, len(held), schedule.batch_size):
            batch = torch.as_tensor(held[start:start + schedule.batch_size], dtype=torch.long, device=device)
            inputs, labels = mask_tokens(batch, tokenizer, schedule.mask_prob, generator)
            with _autocast(device):
                out = model(input_ids=inputs, labels=labels)
            losses.append(float(out.loss))
            chosen = labels != -100
            correct += int((out.logits.argmax(-1)[chosen] == labels[chosen]).sum())
            total += int(chosen.sum())
    return {"masked_token_accuracy": round(correct / max(1, total), 4),
            "loss": round(float(np.mean(losses)), 4), "perplexity": round(float(np.exp(np.mean(losses))), 2),
            "masked_tokens": total}


def library_versions() -> dict[str, str]:
    import torch
    import transformers
    return {"torch": torch.__version__, "transformers": transformers.__version__, "numpy": np.__version__}


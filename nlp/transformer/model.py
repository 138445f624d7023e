"""TransformerClassifier: a fine-tuned transformer in a save_pretrained-style directory.

    config.json        the Hugging Face model config plus our keys (format, task, labels,
                       label_aliases, tokenizer, inference, training, metrics), so the
                       folder also opens with AutoModelForSequenceClassification.from_pretrained
    model.safetensors  weights, stored as float16 (half the size; loaded as float32)
    vocab.txt          our character vocabulary, or the checkpoint's tokenizer files
    README.md          model card

Inference sorts a batch by length so padding stays short, runs under
torch.inference_mode, and on CPU uses dynamic int8 quantization of the Linear
layers when the model's config says accuracy held on dev (`inference.quantize`).
"""
from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelFormatError, ModelNotFoundError
from . import TRANSFORMER_FORMAT, pick_device, require_torch
from .tokenizer import load_tokenizer

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
CONFIG_FILE, WEIGHTS_FILE, CARD_FILE = "config.json", "model.safetensors", "README.md"
# Our keys in config.json; everything else is the Hugging Face model config.
OWN_KEYS = ("format", "format_version", "task", "labels", "label_aliases", "description", "tokenizer", "inference",
            "training", "metrics", "selection", "created_at", "library_versions", "pretraining")
# Buffers that some transformers versions save and others recompute.
_OPTIONAL_KEYS = ("position_ids", "token_type_ids")


def hf_config_dict(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k not in OWN_KEYS}


def build_model(config: dict[str, Any]):
    """An untrained sequence classifier of the architecture `config` describes."""
    from transformers import AutoConfig, AutoModelForSequenceClassification
    hf = hf_config_dict(config)
    model_type = hf.pop("model_type", None)
    if not model_type:
        raise ModelFormatError("config.json has no model_type")
    try:
        hf_config = AutoConfig.for_model(model_type, **hf)
    except (ValueError, KeyError) as exc:
        raise ModelFormatError(f"config.json: unsupported model ({exc})") from None
    return AutoModelForSequenceClassification.from_config(hf_config)


def save_weights(model, path: Path) -> None:
    """State dict as float16 safetensors; tensors that share storage are written once."""
    import torch
    from safetensors.torch import save_file
    seen: set[int] = set()
    tensors = {}
    for name, tensor in model.state_dict().items():
        key = tensor.data_ptr()
        if key in seen:
            continue   # tied weights (e.g. an MLM decoder tied to the embeddings)
        seen.add(key)
        tensor = tensor.detach().to("cpu")
        tensors[name] = tensor.to(torch.float16) if tensor.is_floating_point() else tensor
    tmp = path.with_name(f".{path.name}.tmp")
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp), metadata={"format": "pt"})
    tmp.replace(path)


def load_weights(model, path: Path) -> None:
    """Load float16/float32 weights into `model` (float32), failing on any real mismatch."""
    from safetensors.torch import load_file
    try:
        state = load_file(str(path))
    except Exception as exc:   # safetensors raises its own error types for corrupt files
        raise ModelFormatError(f"{path} unreadable: {exc}") from None
    expected = model.state_dict()
    state = {k: v.to(expected[k].dtype) if k in expected else v for k, v in state.items()}
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith(_OPTIONAL_KEYS)]
    tied = {k for k in missing if _is_tied(model, k)}
    missing = [k for k in missing if k not in tied]
    unexpected = [k for k in result.unexpected_keys if not k.endswith(_OPTIONAL_KEYS)]
    if missing or unexpected:
        raise ModelFormatError(f"{path}: weights do not match the config (missing {missing[:5]}, "
                               f"unexpected {unexpected[:5]})")
    if tied:
        model.tie_weights()


def _is_tied(model, key: str) -> bool:
    keys = getattr(model, "_tied_weights_keys", None) or []
    if isinstance(keys, dict):
        keys = list(keys)
    return any(key == k or key.endswith(k) for k in keys)


def quantize_int8(model):
    """Dynamic int8 quantization of the Linear layers (CPU inference)."""
    import torch
    try:
        from torch.ao.quantization import quantize_dynamic
    except ImportError:   # very new torch moved it out
        from torch.quantization import quantize_dynamic
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


class TransformerClassifier:
    """Batched transformer inference behind the same interface as the linear TextClassifier."""

    uses_words = False   # segmentation is not needed; `words` is accepted and ignored

    def __init__(self, config: dict[str, Any], model, tokenizer, *, device: str = "cpu", quantized: bool = False):
        hf_config = getattr(model, "config", None)
        # One dict for everything: the architecture (HF keys) and ours, as config.json holds them.
        self.config = {**(hf_config_dict(hf_config.to_dict()) if hf_config is not None else {}), **config}
        self.config.pop("torch_dtype", None)
        self.config.pop("dtype", None)
        self.labels: list[str] = list(config["labels"])
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.quantized = quantized
        inference = config.get("inference", {})
        self.max_length = int(inference.get("max_length", 128))
        self.batch_size = int(inference.get("batch_size", 64))
        n_out = getattr(getattr(model, "config", None), "num_labels", len(self.labels))
        if n_out != len(self.labels):
            raise ModelFormatError(f"model has {n_out} outputs but config lists {len(self.labels)} labels")

    @property
    def task(self) -> str:
        return self.config.get("task", "")

    # --- prediction ------------------------------------------------------
    def probabilities(self, texts: Sequence[str], *, words: Sequence[Sequence[str]] | None = None,
                      batch_size: int | None = None) -> np.ndarray:
        """(n_texts, n_labels) float32 probabilities, columns in `labels` order."""
        import torch
        from ..cleaning import clean_text
        texts = [clean_text("" if t is None else str(t)) for t in texts]   # markup is not text
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        if not texts:
            return out
        encoded = self.tokenizer.encode(texts, self.max_length)
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
        size = max(1, batch_size or self.batch_size)
        self.model.eval()
        with torch.inference_mode():
            for start in range(0, len(order), size):
                rows = order[start:start + size]
                input_ids, mask = pad_batch([encoded[i] for i in rows], self.tokenizer.pad_id, self.device)
                logits = self.model(input_ids=input_ids, attention_mask=mask).logits
                out[rows] = torch.softmax(logits.float(), dim=-1).cpu().numpy()
        return out

    def predict_proba(self, texts: Sequence[str], *, words: Sequence[Sequence[str]] | None = None
                      ) -> list[dict[str, float]]:
        return [dict(zip(self.labels, map(float, row))) for row in self.probabilities(texts)]

    def predict(self, texts: Sequence[str], *, words: Sequence[Sequence[str]] | None = None
                ) -> list[tuple[str, float]]:
        probs = self.probabilities(texts)
        best = probs.argmax(axis=1) if len(probs) else np.zeros(0, dtype=int)
        return [(self.labels[i], float(probs[row, i])) for row, i in enumerate(best)]

    # --- variants --------------------------------------------------------
    def to_cpu_int8(self) -> "TransformerClassifier":
        """A CPU copy with int8 Linear layers (the original is left as it is)."""
        import copy
        model = quantize_int8(copy.deepcopy(self.model).to("cpu").float().eval())
        return TransformerClassifier(self.config, model, self.tokenizer, device="cpu", quantized=True)

    # --- persistence -----------------------------------------------------
    def save(self, path: str | Path, card: str | None = None) -> None:
        if self.quantized:
            raise ValueError("save the float model, not its int8 copy (quantization happens at load)")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        save_weights(self.model, path / WEIGHTS_FILE)
        self.tokenizer.save(path)
        config = {**hf_config_dict(self.model.config.to_dict()), **{k: v for k, v in self.config.items()
                                                                      if k in OWN_KEYS}}
        config["format"], config["format_version"] = TRANSFORMER_FORMAT, FORMAT_VERSION
        config.setdefault("tokenizer", {"type": self.tokenizer.kind})
        config.pop("torch_dtype", None)
        config.pop("dtype", None)
        _atomic_write(path / CONFIG_FILE, json.dumps(config, ensure_ascii=False, indent=2) + "\n")
        if card is not None:
            _atomic_write(path / CARD_FILE, card)
        self.config = config

    @classmethod
    def load(cls, path: str | Path, *, device: str | None = None, quantize: str | None = None
             ) -> "TransformerClassifier":
        """Load a model directory. quantize: "int8", "none", or None for the config's choice (CPU only)."""
        require_torch()
        path = Path(path)
        if not (path / CONFIG_FILE).is_file() or not (path / WEIGHTS_FILE).is_file():
            raise ModelNotFoundError(f"transformer model directory {path} needs {CONFIG_FILE} and {WEIGHTS_FILE}; "
                                     "train one with `yuqing nlp train <task> --model transformer`")
        try:
            config = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelFormatError(f"{path / CONFIG_FILE} unreadable: {exc}") from None
        if config.get("format") != TRANSFORMER_FORMAT or config.get("format_version", 0) > FORMAT_VERSION:
            raise ModelFormatError(f"{path / CONFIG_FILE}: not a {TRANSFORMER_FORMAT} v{FORMAT_VERSION} model")
        if not config.get("labels"):
            raise ModelFormatError(f"{path / CONFIG_FILE}: no labels")
        device = pick_device(device)
        tokenizer = load_tokenizer(path, config.get("tokenizer", {}).get("type"))
        model = build_model(config)
        load_weights(model, path / WEIGHTS_FILE)
        model = model.float().eval()
        choice = quantize or config.get("inference", {}).get("quantize", "none")
        if choice not in ("int8", "none"):
            raise ValueError(f"quantize must be 'int8' or 'none', not {choice!r}")
        quantized = device == "cpu" and choice == "int8"
        model = quantize_int8(model) if quantized else model.to(device)
        logger.info("loaded %s transformer", config.get("task"), extra={"path": str(path), "device": device,
                                                                        "int8": quantized})
        return cls(config, model, tokenizer, device=device, quantized=quantized)


def pad_batch(sequences: Sequence[Sequence[int]], pad_id: int, device: str):
    """Right-padded input_ids and attention_mask tensors for one batch."""
    import torch
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    return ids.to(device), mask.to(device)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)

"""The transformer path: a compact character BERT we pretrain ourselves, fine-tuned per task.

    tokenizer.py   CharTokenizer (vocabulary of characters from our data) and an adapter for
                   the tokenizer of any local Hugging Face checkpoint
    model.py       TransformerClassifier: load a model directory, batched CPU/GPU inference,
                   optional dynamic int8 quantization on CPU
    training.py    masked-language-model pretraining and per-task fine-tuning (seeded, tqdm)
    corpus.py      the unlabeled pretraining corpus from ../shared/data (dev texts left out)

Needs torch and transformers (`pip install -e '.[transformer]'`); nothing else in `nlp`
imports this package unless a transformer model is asked for. Models load from local
paths only: hubs are never contacted.
"""
from __future__ import annotations

import os

from ..errors import NlpError

# Never reach for a hub: every model comes from a local directory.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

TRANSFORMER_FORMAT = "yuqing-transformer-classifier"   # config.json "format" of a fine-tuned classifier

PRETRAINED_FORMAT = "yuqing-char-bert-mlm"


def require_torch() -> None:
    """Raise NlpError with the install command when torch or transformers is missing."""
    missing = []
    for name in ("torch", "transformers", "safetensors"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise NlpError(f"the transformer path needs {', '.join(missing)}: pip install -e '.[transformer]'")


def pick_device(device: str | None = None) -> str:
    """'cuda' when asked for or available (device=None), else 'cpu'."""
    import torch
    if device:
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise NlpError(f"device {device!r} asked for but torch sees no CUDA GPU")
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"

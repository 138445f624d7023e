"""Tokenizers for the transformer path.

CharTokenizer: one token per character after the project's normalisation
(NFKC, lower case), vocabulary built from our own data and saved BERT-style as
vocab.txt (one token per line, line number = id). Chinese BERTs tokenize Chinese
by character anyway; a character vocabulary from our corpus covers Weibo and
government text with a few thousand entries and no word-piece model to train.

HFTokenizer: the tokenizer that comes with a local Hugging Face checkpoint
(hfl/rbt3 and the like), loaded with local_files_only.
"""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..errors import ModelFormatError
from ..textnorm import normalize_text

logger = logging.getLogger(__name__)

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
SPECIAL_TOKENS = [PAD, UNK, CLS, SEP, MASK]
VOCAB_FILE = "vocab.txt"


class CharTokenizer:
    kind = "char"

    def __init__(self, tokens: Sequence[str]):
        if list(tokens[: len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS:
            raise ModelFormatError(f"character vocabulary must start with {SPECIAL_TOKENS}")
        self.tokens = list(tokens)
        self.ids = {t: i for i, t in enumerate(self.tokens)}
        if len(self.ids) != len(self.tokens):
            raise ModelFormatError("character vocabulary has duplicate entries")
        self.pad_id, self.unk_id, self.cls_id, self.sep_id, self.mask_id = range(len(SPECIAL_TOKENS))

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    @property
    def special_ids(self) -> set[int]:
        return set(range(len(SPECIAL_TOKENS)))

    @staticmethod
    def characters(text: str) -> str:
        return normalize_text(text).replace(" ", "")

    @classmethod
    def build(cls, texts: Iterable[str], *, min_count: int = 2, max_size: int = 12000) -> "CharTokenizer":
        """Characters seen at least `min_count` times, most frequent first, at most `max_size` tokens."""
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(cls.characters(text))
        chars = [c for c, n in counts.most_common(max_size - len(SPECIAL_TOKENS)) if n >= min_count]
        logger.info("character vocabulary built", extra={"chars": len(chars), "distinct_seen": len(counts)})
        return cls(SPECIAL_TOKENS + sorted(chars))

    def encode(self, texts: Sequence[str], max_length: int) -> list[list[int]]:
        """[CLS] chars… [SEP] per text, truncated to max_length ids (the opening is kept)."""
        room = max(0, max_length - 2)
        ids, unk = self.ids, self.unk_id
        return [[self.cls_id, *(ids.get(c, unk) for c in self.characters(t or "")[:room]), self.sep_id]
                for t in texts]

    def encode_stream(self, text: str) -> list[int]:
        """Ids for a text without [CLS]/[SEP] (pretraining packs texts into blocks)."""
        ids, unk = self.ids, self.unk_id
        return [ids.get(c, unk) for c in self.characters(text)]

    def save(self, path: str | Path) -> None:
        Path(path).mkdir(parents=True, exist_ok=True)
        (Path(path) / VOCAB_FILE).write_text("\n".join(self.tokens) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "CharTokenizer":
        file = Path(path) / VOCAB_FILE
        try:
            lines = file.read_text(encoding="utf-8").split("\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelFormatError(f"{file} unreadable: {exc}") from None
        if lines and lines[-1] == "":
            lines.pop()
        return cls(lines)


class HFTokenizer:
    """Adapter over a local checkpoint's own tokenizer (AutoTokenizer, local files only)."""

    kind = "hf"

    def __init__(self, tokenizer):
        self._tok = tokenizer
        if tokenizer.pad_token_id is None:
            raise ModelFormatError("the checkpoint's tokenizer has no padding token")
        self.pad_id = tokenizer.pad_token_id
        self.mask_id = tokenizer.mask_token_id
        self.cls_id = tokenizer.cls_token_id
        self.sep_id = tokenizer.sep_token_id

    @classmethod
    def load(cls, path: str | Path) -> "HFTokenizer":
        from transformers import AutoTokenizer
        try:
            return cls(AutoTokenizer.from_pretrained(str(path), local_files_only=True))
        except (OSError, ValueError) as exc:
            raise ModelFormatError(f"no usable tokenizer in {path}: {exc}") from None

    @property
    def vocab_size(self) -> int:
        return len(self._tok)

    def __len__(self) -> int:
        return len(self._tok)

    @property
    def special_ids(self) -> set[int]:
        return set(self._tok.all_special_ids)

    def encode(self, texts: Sequence[str], max_length: int) -> list[list[int]]:
        texts = [normalize_text(t or "") for t in texts]
        return self._tok(texts, truncation=True, max_length=max_length, add_special_tokens=True)["input_ids"]

    def encode_stream(self, text: str) -> list[int]:
        return self._tok(normalize_text(text), add_special_tokens=False)["input_ids"]

    def save(self, path: str | Path) -> None:
        self._tok.save_pretrained(str(path))


def load_tokenizer(path: str | Path, kind: str | None = None):
    """The tokenizer stored in a model directory: ours (vocab.txt, kind 'char') or the checkpoint's."""
    path = Path(path)
    if kind == "char" or (kind is None and (path / VOCAB_FILE).exists() and not _has_hf_tokenizer(path)):
        return CharTokenizer.load(path)
    return HFTokenizer.load(path)


def _has_hf_tokenizer(path: Path) -> bool:
    return any((path / name).exists() for name in ("tokenizer.json", "tokenizer_config.json"))

"""The offline demo: a bundled corpus and a local "internet" that serves it.

`DemoSite` (site.py) serves five simulated channels on 127.0.0.1; `load_corpus()`
returns the records with their answer key. The corpus is generated once by
build_corpus.py and committed as corpus/posts.jsonl.
"""
from __future__ import annotations

from typing import Any

__all__ = ["CORPUS_FILE", "DemoSite", "load_corpus"]


def __getattr__(name: str) -> Any:
    # Lazy, so `python -m yuqing.demo.site` does not import site.py twice.
    if name in __all__:
        from . import site
        return getattr(site, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

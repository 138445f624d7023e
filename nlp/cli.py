"""`nlp` command group: train / evaluate models, build shipped resources, try the pipeline on a text.

The yuqing CLI mounts it with `nlp.cli.register(subparsers)`; every leaf parser
sets `func(args) -> int` (exit status). Standalone: `python -m nlp ...`.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from .errors import NlpError

logger = logging.getLogger(__name__)

DEFAULT_DATA = os.environ.get("YUQING_SHARED_DATA", "../shared/data")
DEFAULT_MODELS = "models"


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `nlp` command group to an argparse subparsers object."""
    nlp = subparsers.add_parser("nlp", help="train and evaluate NLP models, build NLP resources",
                                description="Train and evaluate the NLP models and build their resources.")
    commands = nlp.add_subparsers(dest="nlp_command", metavar="COMMAND", required=True)
    from .train import TASKS

    train = commands.add_parser("train", help="train a model from the shared data and save it")
    train.add_argument("task", choices=sorted(TASKS))
    train.add_argument("--data", default=DEFAULT_DATA, help=f"shared data folder (default {DEFAULT_DATA})")
    train.add_argument("--out", default=None, help="model directory (default models/<task>)")
    train.add_argument("--seed", type=int, default=42)
    train.add_argument("--limit", type=int, default=None, help="use at most N examples (quick runs)")
    train.set_defaults(func=_train)

    evaluate = commands.add_parser("eval", help="score a saved model on its dev split; prints metrics JSON")
    evaluate.add_argument("task", choices=sorted(TASKS))
    evaluate.add_argument("--model", default=None, help="model directory (default models/<task>)")
    evaluate.add_argument("--data", default=DEFAULT_DATA)
    evaluate.set_defaults(func=_eval)

    gazetteer = commands.add_parser("build-gazetteer", help="derive nlp/resources/gazetteer.tsv from admin divisions")
    gazetteer.add_argument("--data", default=DEFAULT_DATA)
    gazetteer.add_argument("--out", default=None, help="output file (default: the shipped nlp/resources/gazetteer.tsv)")
    gazetteer.set_defaults(func=_build_gazetteer)

    stopwords = commands.add_parser("build-stopwords", help="merge the stopword lists into nlp/resources/stopwords.txt")
    stopwords.add_argument("--data", default=DEFAULT_DATA)
    stopwords.add_argument("--out", default=None)
    stopwords.set_defaults(func=_build_stopwords)

    analyze = commands.add_parser("analyze", help="enrich one text and print the result as JSON")
    analyze.add_argument("text")
    analyze.add_argument("--models", default=DEFAULT_MODELS)
    analyze.add_argument("--author-location", default=None)
    analyze.add_argument("--home", action="append", default=[], help="home region code (repeatable)")
    analyze.set_defaults(func=_analyze)
    return nlp


def _guard(handler):
    """Turn expected failures into a one-line message and exit status 2."""
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except (NlpError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    run.__name__ = handler.__name__
    return run


@_guard
def _train(args: argparse.Namespace) -> int:
    from .train import train_task
    out = Path(args.out or Path(DEFAULT_MODELS) / args.task)
    command = " ".join(["yuqing nlp train", args.task, "--data", str(args.data), "--out", str(out),
                        "--seed", str(args.seed)] + (["--limit", str(args.limit)] if args.limit else []))
    metrics = train_task(args.task, Path(args.data), out, seed=args.seed, limit=args.limit, command=command)
    print(json.dumps({"task": args.task, "out": str(out), "macro_f1": metrics["macro_f1"],
                      "accuracy": metrics["accuracy"], "dev_n": metrics["n"]}, ensure_ascii=False))
    return 0


@_guard
def _eval(args: argparse.Namespace) -> int:
    from .train import evaluate_task
    metrics = evaluate_task(args.task, Path(args.model or Path(DEFAULT_MODELS) / args.task), Path(args.data))
    print(json.dumps(metrics, ensure_ascii=False, indent=2))
    return 0


@_guard
def _build_gazetteer(args: argparse.Namespace) -> int:
    from .regions import DEFAULT_GAZETTEER, build_gazetteer
    out = Path(args.out) if args.out else DEFAULT_GAZETTEER
    gazetteer = build_gazetteer(Path(args.data) / "admin_divisions", out)
    print(json.dumps({"out": str(out), "places": len(gazetteer)}, ensure_ascii=False))
    return 0


@_guard
def _build_stopwords(args: argparse.Namespace) -> int:
    from .segment import DEFAULT_STOPWORDS, build_stopwords
    out = Path(args.out) if args.out else DEFAULT_STOPWORDS
    count = build_stopwords(Path(args.data) / "lexicons" / "stopwords", out)
    print(json.dumps({"out": str(out), "words": count}, ensure_ascii=False))
    return 0


@_guard
def _analyze(args: argparse.Namespace) -> int:
    from index.schema import Author, Post, now
    from .enrich import Enricher
    enricher = Enricher.from_models_dir(Path(args.models), home_region=args.home)
    post = Post(id="cli:analyze", platform="news", source="cli", content=args.text, published_at=now(),
                author=Author(location=args.author_location))
    enriched = enricher.enrich([post])[0]
    fields = ("tokens", "keywords", "sentiment", "topics", "region", "pii_masked")
    print(json.dumps(enriched.model_dump(mode="json", include=set(fields)), ensure_ascii=False, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nlp")
    register(parser.add_subparsers(dest="command", required=True))
    # Standalone use: `python -m nlp train topic` (the nlp group is implied).
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] != "nlp":
        argv.insert(0, "nlp")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return args.func(args)

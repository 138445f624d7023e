"""`nlp` command group: train / evaluate / run models, pretrain, build shipped resources, try the pipeline.

    yuqing nlp train <task> [--model linear|transformer] [--init DIR]     tasks: polarity sentiment emotion topic rumor
    yuqing nlp eval <task> [--model DIR] [--split dev|test] [--baseline] [--data FILE --text-col C --label-col C]
    yuqing nlp predict <task> [--model DIR] < texts                       JSONL out
    yuqing nlp pretrain [--corpus FILE]                                   masked-LM character BERT
    yuqing nlp select <task> --candidate DIR …                            pick and install the default

The yuqing CLI mounts it with `nlp.cli.register(subparsers)`; every leaf parser
sets `func(args) -> int` (exit status). Standalone: `python -m nlp ...`.
"""
from __future__ import annotations

import argparse
import io
import json
import logging
import os
import sys
from pathlib import Path

from .config import PACKAGED_MODELS_DIR
from .errors import NlpError

logger = logging.getLogger(__name__)

DEFAULT_DATA = os.environ.get("YUQING_SHARED_DATA", "../shared/data")
# Read from the models shipped in the package; write (train, select) into a checkout's nlp/models,
# the source of what ships, so the commands recorded in the model cards stay relative and rerunnable.
DEFAULT_MODELS = PACKAGED_MODELS_DIR
DEFAULT_TRAIN_OUT = Path("nlp/models")
DEFAULT_PRETRAINED = "nlp/models/char-bert"


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `nlp` command group to an argparse subparsers object."""
    nlp = subparsers.add_parser("nlp", help="train and evaluate NLP models, build NLP resources",
                                description="Train and evaluate the NLP models and build their resources.")
    commands = nlp.add_subparsers(dest="nlp_command", metavar="COMMAND", required=True)
    from .train import TASKS

    tasks = sorted(TASKS)
    train = commands.add_parser("train", help="train a model from the shared data and save it",
                                description="Train a task model on ../shared/data with a seeded dev split; writes a "
                                            "model directory with config.json, weights and a model card.")
    train.add_argument("task", choices=tasks)
    train.add_argument("--model", choices=["linear", "transformer"], default="linear",
                       help="linear: TF-IDF n-grams + lexicon (fast, the defaults); transformer: fine-tune --init")
    train.add_argument("--init", default=None,
                       help="transformer start point: a `yuqing nlp pretrain` directory or any local Hugging Face "
                            f"checkpoint (default {DEFAULT_PRETRAINED} if present, else random weights)")
    train.add_argument("--data", default=DEFAULT_DATA, help=f"shared data folder (default {DEFAULT_DATA})")
    train.add_argument("--out", default=None, help="model directory (default nlp/models/<task>, or "
                                                   "var/models/<task>-transformer for --model transformer)")
    train.add_argument("--seed", type=int, default=42)
    train.add_argument("--limit", type=int, default=None, help="use at most N examples (quick runs)")
    train.add_argument("--no-baseline", action="store_true", help="skip the reference TF-IDF + LinearSVC baseline")
    _transformer_options(train)
    train.set_defaults(func=_train)

    evaluate = commands.add_parser("eval", help="score a model on its dev split or a labeled file; prints metrics JSON",
                                   description="With --data pointing at the shared data folder: the model's dev split. "
                                               "With --data pointing at a CSV/TSV/JSONL file: that file's rows.")
    evaluate.add_argument("task", choices=tasks)
    evaluate.add_argument("--model", default=None, help="model directory (default: the shipped <task> model)")
    evaluate.add_argument("--data", default=DEFAULT_DATA, help="shared data folder, or a labeled CSV/TSV/JSONL file")
    evaluate.add_argument("--text-col", default="text", help="text column / JSON field of --data FILE (default text)")
    evaluate.add_argument("--label-col", default="label", help="label column / JSON field (default label)")
    evaluate.add_argument("--label-map", default=None, help="map file labels to model labels: 'angry=愤怒,0=负面'")
    evaluate.add_argument("--device", default=None, help="transformer device: cpu or cuda (default: cuda if present)")
    evaluate.add_argument("--split", choices=["dev", "test"], default="dev",
                          help="with the shared data folder: the model's dev split, or the team's held-out test "
                               "set (nlp/labels; polarity and topic)")
    evaluate.add_argument("--baseline", action="store_true",
                          help="also fit the reference baseline on the training split; report the gain and its "
                               "bootstrap 95%% interval")
    evaluate.set_defaults(func=_eval)

    predict = commands.add_parser("predict", help="label texts from stdin (one per line, or JSONL); writes JSONL",
                                  description="Reads one text per line, or JSON objects with a text field; writes one "
                                              "JSON line per text: id (if given), text, label, score, scores.")
    predict.add_argument("task", choices=tasks)
    predict.add_argument("--model", default=None, help="model directory (default: the shipped <task> model)")
    predict.add_argument("--input", default="-", help="input file (default stdin)")
    predict.add_argument("--text-field", default="text", help="JSONL field holding the text (default text, "
                                                              "then content)")
    predict.add_argument("--batch-size", type=int, default=256)
    predict.add_argument("--device", default=None)
    predict.set_defaults(func=_predict)

    pretrain = commands.add_parser("pretrain", help="pretrain the character BERT (masked LM) on unlabeled text",
                                   description="Masked-language-model pretraining of a compact character BERT on all "
                                               "unlabeled Chinese text in the shared data (dev texts left out). "
                                               "Meant for a GPU; runs on CPU too (slowly).")
    pretrain.add_argument("--data", default=DEFAULT_DATA)
    pretrain.add_argument("--corpus", default=None, help="prebuilt corpus (.txt or .txt.gz, one text per line; "
                                                         "see build-corpus); default: build it from --data")
    pretrain.add_argument("--out", default=DEFAULT_PRETRAINED)
    pretrain.add_argument("--layers", type=int, default=4)
    pretrain.add_argument("--hidden", type=int, default=256)
    pretrain.add_argument("--heads", type=int, default=4)
    pretrain.add_argument("--epochs", type=float, default=20.0)
    pretrain.add_argument("--batch-size", type=int, default=256)
    pretrain.add_argument("--lr", type=float, default=5e-4)
    pretrain.add_argument("--block-size", type=int, default=128)
    pretrain.add_argument("--max-minutes", type=float, default=None, help="shorten the schedule to fit this budget")
    pretrain.add_argument("--seed", type=int, default=42)
    pretrain.add_argument("--device", default=None)
    pretrain.set_defaults(func=_pretrain)

    corpus = commands.add_parser("build-corpus", help="write the unlabeled pretraining corpus (gzip, one text a line)")
    corpus.add_argument("--data", default=DEFAULT_DATA)
    corpus.add_argument("--out", default="var/corpus/pretrain.txt.gz")
    corpus.set_defaults(func=_build_corpus)

    select = commands.add_parser("select", help="compare candidate models on dev and install the default",
                                 description="Scores each candidate on the same dev split, times it on 2 CPU threads "
                                             "and copies the best one that is fast enough to --out, recording why.")
    select.add_argument("task", choices=tasks)
    select.add_argument("--candidate", action="append", required=True, help="model directory (repeatable)")
    select.add_argument("--data", default=DEFAULT_DATA)
    select.add_argument("--out", default=None, help="default model directory (default nlp/models/<task>)")
    select.add_argument("--min-posts-per-s", type=float, default=None,
                        help="speed floor on 2 CPU threads (default: the enrichment budget, 1000)")
    select.set_defaults(func=_select)

    report = commands.add_parser("report", help="score every task's models afresh; write bench/NLP_RESULTS.md",
                                 description="Every task: dev split (per source), the team's held-out test set, "
                                             "the reference baseline on the same split, the gain with its bootstrap "
                                             "interval, per-class scores, confusion matrices and speed.")
    report.add_argument("--models", default=str(DEFAULT_TRAIN_OUT), help="models directory (default nlp/models)")
    report.add_argument("--data", default=DEFAULT_DATA)
    report.add_argument("--out", default="bench/NLP_RESULTS.md")
    report.add_argument("--task", action="append", choices=tasks, help="only these tasks (repeatable)")
    report.add_argument("--no-speed", action="store_true", help="skip the speed measurement")
    report.set_defaults(func=_report)

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
    analyze.add_argument("--models", default=str(DEFAULT_MODELS))
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


def _transformer_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("transformer options (--model transformer)")
    group.add_argument("--epochs", type=float, default=None, help="fine-tuning epochs (default per task)")
    group.add_argument("--batch-size", type=int, default=None)
    group.add_argument("--lr", type=float, default=None, help="default 2e-4 (our model) or 5e-5 (HF checkpoint)")
    group.add_argument("--max-length", type=int, default=None, help="tokens per text (default per task)")
    group.add_argument("--max-minutes", type=float, default=None, help="shorten the schedule to fit this budget")
    group.add_argument("--device", default=None, help="cuda or cpu (default: cuda if present)")
    group.add_argument("--layers", type=int, default=None, help="from scratch only: encoder layers (default 4)")
    group.add_argument("--hidden", type=int, default=None, help="from scratch only: hidden size (default 256)")


@_guard
def _train(args: argparse.Namespace) -> int:
    from .train import task_spec, train_task
    transformer = args.model == "transformer"
    out = Path(args.out or (Path("var/models") / f"{args.task}-transformer" if transformer
                            else DEFAULT_TRAIN_OUT / args.task))
    init = args.init
    if transformer and init is None and (Path(DEFAULT_PRETRAINED) / "config.json").exists():
        init = DEFAULT_PRETRAINED
    parts = ["yuqing nlp train", args.task, "--model", args.model, "--data", str(args.data), "--out", str(out),
             "--seed", str(args.seed)] + (["--limit", str(args.limit)] if args.limit else [])
    schedule = architecture = None
    if transformer:
        from .transformer import require_torch
        require_torch()
        from .transformer.training import Architecture, Schedule
        spec = task_spec(args.task).transformer
        schedule = Schedule(epochs=args.epochs or spec.epochs, batch_size=args.batch_size or spec.batch_size,
                            lr=args.lr, max_length=args.max_length or spec.max_length, seed=args.seed,
                            device=args.device, max_minutes=args.max_minutes)
        architecture = Architecture(**{k: v for k, v in (("num_hidden_layers", args.layers),
                                                         ("hidden_size", args.hidden)) if v})
        if args.hidden:
            architecture.intermediate_size = 4 * args.hidden
        parts += (["--init", str(init)] if init else []) + [
            f"--{name.replace('_', '-')} {value}" for name, value in (("epochs", args.epochs), ("batch_size", args.batch_size),
                                                                     ("lr", args.lr), ("max_length", args.max_length),
                                                                     ("max_minutes", args.max_minutes),
                                                                     ("device", args.device), ("layers", args.layers),
                                                                     ("hidden", args.hidden))
            if value is not None]
    metrics = train_task(args.task, Path(args.data), out, seed=args.seed, limit=args.limit, command=" ".join(parts),
                         model_kind=args.model, init=Path(init) if init else None, baseline=not args.no_baseline,
                         schedule=schedule, architecture=architecture)
    print(json.dumps({"task": args.task, "model": args.model, "out": str(out), "macro_f1": metrics["macro_f1"],
                      "accuracy": metrics["accuracy"], "dev_n": metrics["n"]}, ensure_ascii=False))
    return 0


@_guard
def _eval(args: argparse.Namespace) -> int:
    from .train import evaluate_file, evaluate_task, parse_label_map
    model = Path(args.model or Path(DEFAULT_MODELS) / args.task)
    data = Path(args.data)
    if data.is_file():
        metrics = evaluate_file(args.task, model, data, text_col=args.text_col, label_col=args.label_col,
                                label_map=parse_label_map(args.label_map), device=args.device)
    else:
        metrics = evaluate_task(args.task, model, data, device=args.device, split=args.split,
                                baseline=args.baseline)
    print(json.dumps(metrics, ensure_ascii=False, indent=2))
    return 0


@_guard
def _report(args: argparse.Namespace) -> int:
    from .report import run_report, target_rows
    results = run_report(Path(args.models), Path(args.data), Path(args.out), args.task, speed=not args.no_speed)
    summary = {task: {Path(r["model"]).name: [{"where": w, "target": t, "measured": v, "met": m}
                                              for w, t, v, m in target_rows(task, r)] for r in models}
               for task, models in results.items()}
    print(json.dumps({"out": args.out, "targets": summary}, ensure_ascii=False))
    return 0


@_guard
def _predict(args: argparse.Namespace) -> int:
    from .classify import load_classifier
    from .train import _check_task, predict_stream
    model_dir = Path(args.model or Path(DEFAULT_MODELS) / args.task)
    model = load_classifier(model_dir, device=args.device)
    _check_task(model, args.task, model_dir)
    if args.input == "-":
        stream = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
        count = predict_stream(model, stream, sys.stdout, text_field=args.text_field, batch_size=args.batch_size)
    else:
        with open(args.input, encoding="utf-8-sig", errors="replace") as stream:
            count = predict_stream(model, stream, sys.stdout, text_field=args.text_field, batch_size=args.batch_size)
    logger.info("predicted %d texts", count)
    return 0


@_guard
def _pretrain(args: argparse.Namespace) -> int:
    from .transformer import require_torch
    require_torch()
    from .train import dev_texts
    from .transformer.corpus import build_corpus, read_corpus
    from .transformer.training import Architecture, PretrainSchedule, pretrain_mlm
    from .transformer.cards import pretrained_card
    corpus_path = Path(args.corpus) if args.corpus else Path(args.out) / "corpus.txt.gz"
    stats = None
    if not args.corpus:
        stats = build_corpus(Path(args.data), corpus_path, excluded=dev_texts(Path(args.data)))
    texts = read_corpus(corpus_path)
    info = {"path": str(args.corpus or "(built from --data)"), "texts": len(texts),
            "characters": sum(map(len, texts)), **({"by_origin": stats["by_origin"]} if stats else {})}
    if not args.corpus:
        corpus_path.unlink()   # the corpus is raw shared data: never left inside a model directory
    architecture = Architecture(hidden_size=args.hidden, num_hidden_layers=args.layers,
                                num_attention_heads=args.heads, intermediate_size=4 * args.hidden,
                                max_position_embeddings=max(512, args.block_size))
    schedule = PretrainSchedule(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                                max_length=args.block_size, seed=args.seed, device=args.device,
                                max_minutes=args.max_minutes)
    # With a prebuilt corpus the rebuild recipe is build-corpus, then pretrain on it.
    prefix = f"yuqing nlp build-corpus --data {args.data} --out {args.corpus} && " if args.corpus else ""
    command = prefix + " ".join(["yuqing nlp pretrain"] + (["--corpus", args.corpus] if args.corpus else ["--data", str(args.data)])
                       + ["--out", str(args.out), "--layers", str(args.layers), "--hidden", str(args.hidden),
                          "--heads", str(args.heads), "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
                          "--lr", str(args.lr), "--block-size", str(args.block_size), "--seed", str(args.seed)]
                       + (["--max-minutes", str(args.max_minutes)] if args.max_minutes else []))
    info["command"] = command
    config = pretrain_mlm(texts, Path(args.out), architecture=architecture, schedule=schedule, corpus_info=info,
                          card=pretrained_card)
    print(json.dumps({"out": str(args.out), **config["pretraining"]["metrics"],
                      "seconds": config["pretraining"]["result"]["seconds"]}, ensure_ascii=False))
    return 0


@_guard
def _build_corpus(args: argparse.Namespace) -> int:
    from .train import dev_texts
    from .transformer.corpus import build_corpus
    stats = build_corpus(Path(args.data), Path(args.out), excluded=dev_texts(Path(args.data)))
    print(json.dumps({"out": args.out, **stats}, ensure_ascii=False))
    return 0


@_guard
def _select(args: argparse.Namespace) -> int:
    from .train import REQUIRED_POSTS_PER_S, select_default
    out = Path(args.out or DEFAULT_TRAIN_OUT / args.task)
    selection = select_default(args.task, [Path(c) for c in args.candidate], Path(args.data), out,
                               args.min_posts_per_s or REQUIRED_POSTS_PER_S)
    print(json.dumps(selection, ensure_ascii=False, indent=2))
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

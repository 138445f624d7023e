"""Train and evaluate the baseline models (sentiment, topic) from the shared data.

    yuqing nlp train topic --data ../shared/data --out models/topic
    yuqing nlp eval topic --model models/topic --data ../shared/data

Training dedupes the examples, makes a seeded split stratified by label and
source (dev stays out of training), fits the classifier, scores it on dev and
writes the model directory with config.json (settings, data provenance, metrics)
and a model card. `evaluate_task` rebuilds the same split from the seed stored
in config.json, so its numbers are reproducible.
"""
from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from . import datasets
from .classify import FeatureConfig, ModelConfig, TextClassifier
from .datasets import Example

logger = logging.getLogger(__name__)

DEV_FRACTION = 0.15


@dataclass(frozen=True)
class TaskSpec:
    name: str
    labels: list[str]
    load: Callable[[Path], list[Example]]
    description: str
    data_notes: list[str]
    features: FeatureConfig = field(default_factory=FeatureConfig)
    model: ModelConfig = field(default_factory=ModelConfig)


TASKS: dict[str, TaskSpec] = {
    "sentiment": TaskSpec(
        name="sentiment",
        labels=datasets.SENTIMENT_LABELS,
        load=datasets.load_sentiment,
        description="Polarity of a Weibo-style post: 负面 / 中性 / 正面.",
        data_notes=[
            "SMP2020-EWECT (usual + virus domains): angry/sad/fear → 负面, happy → 正面, neutral → 中性; "
            "surprise is dropped (its valence is mixed, either mapping adds noise).",
            "weibo2018 hand-labelled polarity: 1 → 正面, 0 → 负面; Weibo markup {%…%} removed.",
            "weibo_senti_100k was tried (emoticons stripped, as its README requires) and left out: its "
            "emoticon-derived labels lowered dev macro-F1 (0.825 → 0.817).",
            "Lexicon features (HowNet/NTUSD/Tsinghua/DUTIR with negation windows) were tried and left out: "
            "no dev gain (0.8249 → 0.8251) for an extra resource to ship.",
            "Balance: class_weight='balanced' (中性 is the smallest class) instead of discarding data.",
        ],
        model=ModelConfig(C=3.0),
    ),
    "topic": TaskSpec(
        name="topic",
        labels=datasets.TOPIC_LABELS,
        load=datasets.load_topic,
        description="Governance field of a post (labels of configs/topics.yaml); 其他 = not governance business.",
        data_notes=[
            "7 governance classes: citizen-message titles and full texts (details truncated to 1000 "
            "characters); the source's masked place names (A市, A3区) are removed so the model does not "
            "learn them.",
            "其他: up to 2000 THUCNews headlines (finance, stocks, science, sports, game, entertainment), "
            "1500 TNEWS headlines (story, entertainment, sports, finance, car, tech, military, world, stock, "
            "game) and 1200 everyday SMP2020 Weibo posts that mention no governance term — so chatter and "
            "general news are not forced into a governance class.",
            "Balance: class_weight='balanced'.",
        ],
        model=ModelConfig(C=10.0),
    ),
}


def task_spec(task: str) -> TaskSpec:
    try:
        return TASKS[task]
    except KeyError:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}") from None


def build_split(task: str, data_dir: Path, seed: int = 42, limit: int | None = None
                ) -> tuple[list[Example], list[Example]]:
    """The deduplicated, seeded train/dev split every run of `task` uses."""
    spec = task_spec(task)
    examples = datasets.deduplicate(spec.load(Path(data_dir)))
    if limit:
        examples = datasets.subsample(examples, limit, seed)
    return datasets.stratified_split(examples, DEV_FRACTION, seed)


def segment_all(texts: Sequence[str], segmenter, max_chars: int, desc: str) -> list[list[str]]:
    return [segmenter.cut(t[:max_chars]) for t in tqdm(texts, desc=desc, unit="doc", mininterval=1.0)]


def evaluate(model: TextClassifier, examples: Sequence[Example], batch_size: int = 1024) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall/F1, confusion matrix and per-source accuracy."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    if not examples:
        raise ValueError("no examples to evaluate")
    texts = [e.text for e in examples]
    gold = [e.label for e in examples]
    words = segment_all(texts, model.segmenter, model.features.max_chars, "segment dev")
    pred = []
    for start in tqdm(range(0, len(texts), batch_size), desc="predict dev", unit="batch", mininterval=1.0):
        pred += [label for label, _ in model.predict(texts[start:start + batch_size],
                                                     words=words[start:start + batch_size])]
    labels = model.labels
    p, r, f, s = precision_recall_fscore_support(gold, pred, labels=labels, zero_division=0)
    by_origin: dict[str, list[bool]] = defaultdict(list)
    for e, y in zip(examples, pred):
        by_origin[e.origin].append(e.label == y)
    return {
        "n": len(examples),
        "accuracy": round(float(accuracy_score(gold, pred)), 4),
        "macro_f1": round(float(f1_score(gold, pred, labels=labels, average="macro", zero_division=0)), 4),
        "per_class": {lab: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
                            "f1": round(float(f[i]), 4), "support": int(s[i])} for i, lab in enumerate(labels)},
        "accuracy_by_source": {o: round(float(np.mean(v)), 4) for o, v in sorted(by_origin.items())},
        "confusion_matrix": {"labels": labels, "rows_gold_cols_pred": confusion_matrix(gold, pred, labels=labels).tolist()},
    }


def train_task(task: str, data_dir: Path, out_dir: Path, seed: int = 42, limit: int | None = None,
               command: str | None = None) -> dict[str, Any]:
    """Train `task` on the shared data, evaluate on the held-out dev split, save to `out_dir`.

    Returns the dev metrics (also written into config.json and the model card).
    """
    from .segment import default_segmenter

    spec = task_spec(task)
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    started = time.monotonic()
    train, dev = build_split(task, data_dir, seed, limit)
    logger.info("%s split: %d train, %d dev", task, len(train), len(dev))
    segmenter = default_segmenter()
    words = segment_all([e.text for e in train], segmenter, spec.features.max_chars, f"segment {task} train")
    model = TextClassifier.train(
        [e.text for e in train], [e.label for e in train], task=task, label_order=spec.labels,
        features=spec.features, model=spec.model, words=words, segmenter=segmenter)
    metrics = evaluate(model, dev)
    command = command or (f"yuqing nlp train {task} --data {data_dir} --out {out_dir} --seed {seed}"
                          + (f" --limit {limit}" if limit else ""))
    model.config["training"] = {
        "command": command,
        "seed": seed,
        "limit": limit,
        "dev_fraction": DEV_FRACTION,
        "split": "deduplicated, seeded, stratified by (label, source); dev never used for fitting",
        "data": {origin: datasets.DATA_PROVENANCE[origin] for origin in datasets.origin_counts(train + dev)},
        "data_notes": spec.data_notes,
        "train_counts": {"by_label": datasets.label_counts(train), "by_source": datasets.origin_counts(train)},
        "dev_counts": {"by_label": datasets.label_counts(dev), "by_source": datasets.origin_counts(dev)},
        "seconds": round(time.monotonic() - started, 1),
    }
    model.config["metrics"] = {"dev": metrics}
    model.config["description"] = spec.description
    model.save(out_dir, card=model_card(model.config))
    logger.info("%s model saved", task, extra={"out": str(out_dir), "macro_f1": metrics["macro_f1"],
                                                "accuracy": metrics["accuracy"]})
    return metrics


def evaluate_task(task: str, model_dir: Path, data_dir: Path) -> dict[str, Any]:
    """Score a saved model on the dev split it was trained with (seed and limit from its config)."""
    model = TextClassifier.load(model_dir)
    if model.task and model.task != task:
        raise ValueError(f"{model_dir} holds a {model.task!r} model, not {task!r}")
    training = model.config.get("training", {})
    _, dev = build_split(task, Path(data_dir), training.get("seed", 42), training.get("limit"))
    return evaluate(model, dev)


def model_card(config: dict[str, Any]) -> str:
    """Markdown model card: what it does, the data it saw, how well it does, how to rebuild it."""
    training = config.get("training", {})
    dev = config.get("metrics", {}).get("dev", {})
    features = config.get("features", {})
    lines = [
        f"# {config['task']} — baseline text classifier (Yuqing Sentinel)",
        "",
        config.get("description", ""),
        "",
        f"Labels: {' / '.join(config['labels'])}",
        "",
        "## Model",
        "",
        f"- TF-IDF over character {tuple(features.get('char_ngram_range', ()))}-grams "
        f"(≤ {features.get('max_char_features')}) and jieba word {tuple(features.get('word_ngram_range', ()))}-grams "
        f"(≤ {features.get('max_word_features')}), sublinear tf, min_df {features.get('min_df')}; "
        f"text normalised ({features.get('normalization')}"
        f"{', digit runs → 0' if features.get('collapse_digits') else ''}), first {features.get('max_chars')} characters.",
        f"- After a first fit, only the {features.get('keep_features')} n-grams with the largest weights are kept "
        "and the model is refitted on them (smaller model, same dev score).",
        f"- Multinomial logistic regression, C={config['model']['C']}, class_weight={config['model']['class_weight']}.",
        "- Segmentation: private jieba tokenizer + nlp/resources/user_dict.txt + gazetteer place names.",
        "- Files: config.json (settings, data, metrics), vocab.json, weights.npz (float32). No pickles.",
        "",
        "## Training data",
        "",
        "From `../shared/data` (research datasets; not redistributed — only model weights are shipped):",
        "",
    ]
    for origin, where in training.get("data", {}).items():
        lines.append(f"- `{origin}`: {where}")
    lines += ["", *[f"- {note}" for note in training.get("data_notes", [])], ""]
    lines += [f"Train examples by label: {training.get('train_counts', {}).get('by_label')}",
              "",
              f"Train examples by source: {training.get('train_counts', {}).get('by_source')}",
              "",
              f"Split: {training.get('split')}; dev fraction {training.get('dev_fraction')}, seed {training.get('seed')}.",
              ""]
    if dev:
        lines += ["## Dev results", "",
                  f"- macro-F1 **{dev['macro_f1']:.4f}**, accuracy **{dev['accuracy']:.4f}** on {dev['n']} dev examples",
                  f"- accuracy by source: {dev.get('accuracy_by_source')}", "",
                  "| label | precision | recall | F1 | support |", "|---|---|---|---|---|"]
        for label, m in dev["per_class"].items():
            lines.append(f"| {label} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']} |")
        lines.append("")
    lines += [
        "## Limitations",
        "",
        "- Bag-of-n-grams: no long-range context; sarcasm and negation over distance are missed.",
        "- Dev comes from the same sources as training; expect lower scores on other platforms and years.",
        "- Governance training texts are citizen messages from one city (2019–2020); new issue types "
        "(e.g. new policies) need retraining.",
        "",
        "## Rebuild",
        "",
        "```",
        training.get("command", f"yuqing nlp train {config['task']}"),
        "```",
        "",
        f"Created {config.get('created_at')} with {config.get('library_versions')}; "
        f"training took {training.get('seconds')} s.",
        "",
    ]
    return "\n".join(lines)

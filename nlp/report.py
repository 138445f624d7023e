"""`yuqing nlp report`: every task's models scored afresh, written as bench/NLP_RESULTS.md.

Nothing is read back from a model's config.json: each model is loaded, its dev split is rebuilt
from the seed it was trained with, the reference baseline (character n-gram TF-IDF + LinearSVC)
is fitted on the same training split, and both are scored on dev (overall and per source, e.g.
the SMP2020 virus domain apart from usual) and — for the tasks that have one — on the team's
held-out test set (nlp/labels), with the gain over the baseline and its paired bootstrap 95%
interval. Speed is measured on 2 CPU threads.
"""
from __future__ import annotations

import logging
import platform
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tqdm import tqdm

from . import train as tr
from .classify import load_classifier, read_model_config

logger = logging.getLogger(__name__)

# Each task's issue-9 target (macro-F1) and where it is measured.
TARGETS: dict[str, list[tuple[str, str, float]]] = {
    "polarity": [("test", "all", 0.85)],
    "topic": [("test", "weibo_style", 0.85), ("dev", "citizen_messages", 0.92)],
    "sentiment": [("dev", "smp2020_virus", 0.80)],
    "emotion": [("dev", "smp2020_virus", 0.65)],
    "rumor": [("dev", "all", 0.80)],
}
CITIZEN_ORIGINS = ("gov_titles", "gov_details")


def candidates(models_dir: Path, task: str) -> list[Path]:
    """The shipped default and any `<task>-transformer` (or `<task>-*`) model beside it."""
    out = [models_dir / task] if (models_dir / task / "config.json").is_file() else []
    out += sorted(p for p in models_dir.glob(f"{task}-*") if (p / "config.json").is_file())
    return out


def evaluate_model(task: str, model_dir: Path, data_dir: Path, *, speed: bool = True) -> dict[str, Any]:
    """Dev (with per-source slices), held-out test slices, baseline, gains and speed of one model."""
    spec = tr.task_spec(task)
    model = load_classifier(model_dir, device="cpu")
    tr._check_task(model, task, model_dir)
    training = model.config.get("training", {})
    train, dev = tr.build_split(task, data_dir, training.get("seed", 42), training.get("limit"))
    reference = tr.fit_baseline(train)
    result: dict[str, Any] = {"model": str(model_dir), "format": model.config.get("format"),
                              "train_n": len(train), "stale_split": tr.split_mismatch(model.config, train, dev)}
    result["dev"] = tr.evaluate(model, dev)
    result["dev"]["baseline"] = tr.baseline_svm(train, dev, reference)
    result["dev"].update(tr.compare_on_dev(model, dev, reference))
    citizen = [e for e in dev if e.origin in CITIZEN_ORIGINS]
    if task == "topic" and citizen:
        texts, gold = [e.text for e in citizen], [e.label for e in citizen]
        pred = tr.predict_labels(model, texts, desc="predict dev/citizen")[0]
        base = reference(texts)
        mine = tr.score(gold, pred, model.labels)
        result["dev"]["dev_by_source"]["citizen_messages"] = {
            "n": len(citizen), "macro_f1": mine["macro_f1"], "accuracy": mine["accuracy"],
            "per_class": mine["per_class"], "confusion_matrix": mine["confusion_matrix"],
            "baseline_macro_f1": tr.score(gold, base, model.labels)["macro_f1"],
            "gain_over_baseline": tr.bootstrap_gain(gold, pred, base)}
    if spec.heldout is not None:
        result["test"] = tr.score_heldout(spec, model, data_dir, reference)
    if speed:
        model_cpu = tr._cpu_copy(model) if model.config.get("format") != tr.FORMAT_NAME else model
        result["speed_cpu"] = tr.measure_speed(model_cpu, [e.text for e in dev[:2000]])
    return result


def target_rows(task: str, result: dict[str, Any]) -> list[tuple[str, float, float | None, bool]]:
    """(where, target, measured, met) for the task's targets."""
    rows = []
    if result.get("stale_split"):
        return [(f"{split}/{slice_name}", target, None, False) for split, slice_name, target in TARGETS.get(task, [])]
    for split, slice_name, target in TARGETS.get(task, []):
        value = None
        if split == "test":
            value = result.get("test", {}).get(slice_name, {}).get("macro_f1")
        elif slice_name == "all":
            value = result["dev"]["macro_f1"]
        else:
            value = result["dev"].get("dev_by_source", {}).get(slice_name, {}).get("macro_f1")
        rows.append((f"{split}/{slice_name}", target, value, value is not None and value >= target))
    return rows


def run_report(models_dir: Path, data_dir: Path, out: Path, tasks: Sequence[str] | None = None,
               speed: bool = True) -> dict[str, Any]:
    """Score every candidate of every task, write the markdown to `out`, return the results."""
    tasks = list(tasks or tr.TASKS)
    started = time.monotonic()
    results: dict[str, list[dict[str, Any]]] = {}
    jobs = [(t, c) for t in tasks for c in candidates(models_dir, t)]
    for task, model_dir in tqdm(jobs, desc="nlp report", unit="model"):
        try:
            read_model_config(model_dir)
            results.setdefault(task, []).append(evaluate_model(task, model_dir, data_dir, speed=speed))
        except ImportError as exc:     # a transformer without torch installed
            logger.warning("skipped %s: %s", model_dir, exc)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(results, time.monotonic() - started), encoding="utf-8")
    return results


# --- markdown -------------------------------------------------------------------------------
def _f(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def _gain(g: dict[str, Any] | None) -> str:
    if not g:
        return "–"
    verdict = "beats baseline" if g["beats_baseline"] else ("below baseline" if g["ci95"][1] < 0 else "within interval")
    return f"{g['macro_f1']:+.3f} [{g['ci95'][0]:+.3f}, {g['ci95'][1]:+.3f}] {verdict}"


def _confusion(cm: dict[str, Any]) -> list[str]:
    labels = cm["labels"]
    lines = ["| gold \\ predicted | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
    for lab, row in zip(labels, cm["rows_gold_cols_pred"]):
        lines.append(f"| {lab} | " + " | ".join(str(v) for v in row) + " |")
    return lines


def _per_class(per_class: dict[str, Any]) -> list[str]:
    lines = ["| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for lab, m in per_class.items():
        lines.append(f"| {lab} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']} |")
    return lines


def render(results: dict[str, list[dict[str, Any]]], seconds: float) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# NLP results",
        "",
        f"Written by `yuqing nlp report` on {stamp} ({platform.node()}, {platform.processor() or platform.machine()}, "
        f"{seconds / 60:.1f} min). Every figure is measured afresh by the command, not read from a model's files.",
        "",
        "Protocol (the same for every task): the model's dev split is rebuilt from its training seed "
        "(SMP2020 tasks: reported per domain, virus apart from usual; rumour: split by time, the newest fifth is "
        "dev; topic: title + text as the system sees them); the reference baseline — character 1–3-gram TF-IDF + "
        "LinearSVC(C=1) — is fitted on the same training split; the gain is macro-F1 minus the baseline's, with a "
        f"paired bootstrap 95% interval ({tr.BOOTSTRAP_RESAMPLES} resamples). 'beats baseline' means the whole "
        "interval is above 0. Polarity and topic are also scored on the team's held-out test set (nlp/labels, "
        "docs/labeling.md), which no training or model choice touched.",
        "",
        "## Summary",
        "",
        "| task | model | split | n | macro-F1 | baseline | gain [95% CI] | posts/s (2 CPU threads) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    stale = [(task, Path(r["model"]).name, r["stale_split"]) for task, models in results.items() for r in models
             if r.get("stale_split")]
    if stale:
        lines[-4:-4] = ["**Not results — trained under another split.** These models have seen part of the dev "
                        "split rebuilt today, so their dev figures count training posts; they are listed, marked "
                        "*stale*, and meet no target until retrained:", ""] + [
            f"- {task} / {name}: {why}" for task, name, why in stale] + [""]
    for task, models in results.items():
        for r in models:
            name = Path(r["model"]).name + (" (*stale*)" if r.get("stale_split") else "")
            speed = r.get("speed_cpu", {}).get("posts_per_s", "–")
            d = r["dev"]
            lines.append(f"| {task} | {name} | dev | {d['n']} | {_f(d['macro_f1'])} | {_f(d['baseline']['macro_f1'])} "
                         f"| {_gain(d.get('gain_dev'))} | {speed} |")
            for origin, s in d.get("dev_by_source", {}).items():
                lines.append(f"| {task} | {name} | dev/{origin} | {s['n']} | {_f(s['macro_f1'])} "
                             f"| {_f(s['baseline_macro_f1'])} | {_gain(s['gain_over_baseline'])} | |")
            for slice_name, s in r.get("test", {}).items():
                lines.append(f"| {task} | {name} | test/{slice_name} | {s['n']} | {_f(s['macro_f1'])} "
                             f"| {_f(s.get('baseline', {}).get('macro_f1'))} | {_gain(s.get('gain_over_baseline'))} | |")
    lines += ["", "## Targets (issue 9)", "", "| task | model | where | target | measured | met |", "|---|---|---|---|---|---|"]
    for task, models in results.items():
        for r in models:
            for where, target, value, met in target_rows(task, r):
                shown = "stale: not measured" if r.get("stale_split") else _f(value)
                lines.append(f"| {task} | {Path(r['model']).name} | {where} | {target:.2f} | {shown} | "
                             f"{'yes' if met else 'no'} |")
    for task, models in results.items():
        for r in models:
            lines += ["", f"## {task} — {Path(r['model']).name}", "", f"Training examples: {r['train_n']}.", ""]
            sections = [("dev", r["dev"])] + [(f"dev/{k}", v) for k, v in r["dev"].get("dev_by_source", {}).items()]
            sections += [(f"test/{k}", v) for k, v in r.get("test", {}).items()]
            for title, m in sections:
                lines += [f"### {title} (n = {m['n']}, macro-F1 {_f(m['macro_f1'])}, accuracy {_f(m['accuracy'])})", ""]
                lines += _per_class(m["per_class"]) + [""] + _confusion(m["confusion_matrix"]) + [""]
    return "\n".join(lines) + "\n"

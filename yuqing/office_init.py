"""`yuqing init DIR`: an editable configuration set for a new office, from the shipped defaults.

The five files are the packaged configs (the repository's configs/) with their comments, so a
new office starts from a set that passes `yuqing config check` and edits it from there: its
name, its sources, its agencies and contacts. Existing files are never overwritten unless asked.
"""
from __future__ import annotations

from pathlib import Path

from .config import default_configs_dir

CONFIG_FILES = ("app.yaml", "sources.yaml", "topics.yaml", "rules.yaml", "agencies.yaml")

HEADER = ("# Written by `yuqing init` from the shipped defaults (an example office in 九江). Edit it for\n"
          "# your office, then check it: yuqing config check --config {app}\n")


class InitRefused(Exception):
    """The target already holds configuration files and --force was not given."""


def write_config_set(target: Path, *, force: bool = False) -> list[Path]:
    """Write the default config files into `target` (created if needed); return the paths written."""
    target = Path(target)
    existing = [target / name for name in CONFIG_FILES if (target / name).exists()]
    if existing and not force:
        raise InitRefused(f"{target}: would overwrite {', '.join(p.name for p in existing)}; "
                          "use --force to replace them")
    source = default_configs_dir()
    target.mkdir(parents=True, exist_ok=True)
    header = HEADER.format(app=target / "app.yaml")
    written = []
    for name in CONFIG_FILES:
        path = target / name
        path.write_text(header + (source / name).read_text(encoding="utf-8"), encoding="utf-8")
        written.append(path)
    return written

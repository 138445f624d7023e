"""What every package's configuration models share: strict models, ${VAR} expansion, errors, YAML loading.

It sits at the bottom layer so crawler/, nlp/, index/ and warning/ can each own
their configuration models without importing the `yuqing` shell, and so every
configuration error in the product reads the same way: file, field, problem.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

T = TypeVar("T", bound=BaseModel)


class ConfigError(Exception):
    """A configuration file is missing, unreadable or invalid. The message is for the user."""


class StrictModel(BaseModel):
    """A configuration block: unknown keys are errors, never silently ignored."""
    model_config = ConfigDict(extra="forbid")


_ENV_REF = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")


def expand_env(value: str) -> str:
    """Replace ${VAR} and ${VAR:-default} from the environment; an unset VAR without default is an error."""
    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise ValueError(f"environment variable {name} used in {value!r} is not set")
    return _ENV_REF.sub(replace, value)


def check_unique(names: list[str], what: str) -> None:
    """ValueError naming the repeated ones, e.g. 'source names must be unique; repeated: a, b'."""
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"{what} names must be unique; repeated: {', '.join(dupes)}")


def format_errors(path: Path | str, err: ValidationError, prefix: str = "") -> str:
    """A pydantic error as `FILE: invalid configuration` + one `field: problem (got value)` line each."""
    lines = [f"{path}: invalid configuration"]
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        value = e.get("input")
        shown = "" if isinstance(value, (dict, list)) or value is None else f" (got {value!r})"
        lines.append(f"  {prefix}{where}: {msg}{shown}")
    return "\n".join(lines)


def load_yaml(path: Path) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}:{where}: YAML syntax error: {problem}") from None


def load_model(path: Path, model: type[T]) -> T:
    """Read a YAML mapping file into `model`; ConfigError names the file and each failing field."""
    data = load_yaml(path)
    if data is None:
        raise ConfigError(f"{path}: file is empty")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_errors(path, err)) from None

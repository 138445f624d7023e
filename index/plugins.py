"""Components by name or class path, the Scrapy way.

Spider types, rule types, notifier types and store backends are each looked up
in a `Registry`: built-in names map to a `module:attribute` (imported only when
used, so nothing registers by import side effect), and any other name written
with a dot (`mypackage.rules.MyRule`) is imported as a class path, which is how
a third-party component plugs in without editing this codebase.
"""
from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

C = TypeVar("C")


class ComponentError(LookupError):
    """A component name that is neither built in nor an importable class of the right kind."""


def load_object(path: str) -> Any:
    """Import `package.module.Name` or `package.module:Name`."""
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise ComponentError(f"{path!r} is not a class path like 'package.module.Class'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ComponentError(f"cannot import {module_name!r} for {path!r}: {exc}") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ComponentError(f"module {module_name!r} has no {attr!r}") from None


class Registry(Generic[C]):
    """Built-in components of one kind by name, plus dotted class paths for third-party ones."""

    def __init__(self, kind: str, base: type | str, builtins: Mapping[str, str | type]):
        self.kind = kind              # e.g. "rule type", for messages
        self._base = base             # every component must subclass it (a class or its class path)
        self.builtins = dict(builtins)

    @property
    def base(self) -> type:
        if isinstance(self._base, str):
            self._base = load_object(self._base)
        return self._base

    def names(self) -> list[str]:
        return sorted(self.builtins)

    def is_known(self, name: str) -> bool:
        return name in self.builtins or "." in name or ":" in name

    def check_name(self, name: str, example: str) -> str:
        """For a config validator: `name` if it can name a component, else ValueError listing the built-ins."""
        if not self.is_known(name):
            raise ValueError(f"unknown {self.kind} {name!r}; built-in: {', '.join(self.names())}, "
                             f"or a class path such as {example!r}")
        return name

    def get(self, name: str) -> type[C]:
        if name in self.builtins:
            entry = self.builtins[name]
            obj = load_object(entry) if isinstance(entry, str) else entry
        elif "." in name or ":" in name:
            obj = load_object(name)
        else:
            raise ComponentError(f"unknown {self.kind} {name!r}; built-in: {', '.join(self.names())}, "
                                 "or give a class path such as 'mypackage.module.Class'")
        if not (isinstance(obj, type) and issubclass(obj, self.base)):
            raise ComponentError(f"{name!r} is not a {self.kind}: it must be a subclass of "
                                 f"{self.base.__module__}.{self.base.__qualname__}")
        return obj

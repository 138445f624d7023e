"""Store backends by name (app.yaml `store.backend`) or by class path, and the factory that builds one."""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from .config import STORE_BACKENDS
from .plugins import ComponentError
from .store import StoreError

if TYPE_CHECKING:  # pragma: no cover
    from .config import StoreSettings
    from .segment import Segmenter
    from .store import Store

__all__ = ["STORE_BACKENDS", "BackendNotAvailable", "create_store"]

class BackendNotAvailable(StoreError, NotImplementedError):
    """The configured backend is not part of this installation (e.g. the `es` extra is missing)."""


def create_store(config: "StoreSettings", *, base_dir: Path, user_dicts: Iterable[str | Path] = (),
                 timezone: str = "Asia/Shanghai", segmenter: "Segmenter | None" = None) -> "Store":
    """The Store that `config.backend` names, not yet opened (call open() or use `with`).

    Relative paths in the settings resolve against `base_dir`; histogram buckets are aligned
    in `timezone` (the app's `timezone` option); `segmenter` is the application's one segmenter
    (default: a plain one over `user_dicts`). Every backend class builds itself with
    `from_settings(config, base_dir=..., user_dicts=..., timezone=..., segmenter=...)`.
    """
    if config.backend == "elasticsearch":
        try:
            import elasticsearch  # noqa: F401 - only to give a clear message when the extra is missing
        except ImportError:
            raise BackendNotAvailable("store.backend 'elasticsearch' needs the client: "
                                      "pip install 'yuqing-sentinel[es]'") from None
    try:
        backend = STORE_BACKENDS.get(config.backend)
    except ComponentError as exc:
        raise BackendNotAvailable(str(exc)) from None
    return backend.from_settings(config, base_dir=Path(base_dir), user_dicts=list(user_dicts), timezone=timezone,
                                 segmenter=segmenter)

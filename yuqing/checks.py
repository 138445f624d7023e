"""Preflight: every check the service runs before it starts, shared with `yuqing config check`.

Loading the configuration already validated each file's fields and the cross
references. This goes further and builds what the service would build —
sources' spiders, rules, notifiers, the store, the model directories — so a
problem that would make every scheduled run fail shows up before the first one.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field

from index.configbase import ConfigError

from .config import Settings


@dataclass
class Preflight:
    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def preflight(settings: Settings) -> Preflight:
    result = Preflight()
    sources_file = settings.file("sources")
    from crawler.runner import source_problems
    for index, source in enumerate(settings.sources.sources):
        for problem in source_problems(source):
            result.problems.append(f"{sources_file}: sources.{index} ({source.name}): {problem}")
    result.checked.append(f"{len(settings.sources.sources)} sources")

    from warning.rules import build_rules
    try:
        rules = build_rules(settings.rules)
        result.checked.append(f"{len(rules)} rules")
    except Exception as exc:   # validated at load; a third-party rule may still fail to build
        result.problems.append(f"{settings.file('rules')}: {exc}")

    from warning.notifiers import build_notifiers
    try:
        notifiers = build_notifiers(settings.app.notifiers, agencies=settings.agencies,
                                    default_dir=settings.path(settings.app.output_dir), resolve=settings.path,
                                    path=settings.config_path, tz=settings.tz)
        result.checked.append(f"{len(notifiers)} notifiers")
    except ConfigError as exc:
        result.problems.append(str(exc))

    if "pdf" in settings.app.daily_report.formats:
        from warning.reports.daily import pdf_problem
        problem = pdf_problem()
        if problem:
            result.problems.append(f"{settings.config_path}: daily_report.formats: {problem}; or leave pdf out")
        else:
            result.checked.append("日报 PDF (WeasyPrint)")

    if settings.app.web.enabled:
        missing = [m for m in ("fastapi", "uvicorn", "multipart", "argon2") if importlib.util.find_spec(m) is None]
        if missing:
            result.problems.append(f"{settings.config_path}: web.enabled: the workbench needs {', '.join(missing)}; "
                                   "install the web extra (pip install 'yuqing-sentinel[web]') or set enabled: false")
        else:
            result.checked.append(f"workbench on {settings.app.web.host}:{settings.app.web.port}")

    from nlp.enrich import models_dir_problems
    models_dir = settings.models_dir
    result.problems += [f"{settings.config_path}: nlp.models_dir: {p}" for p in models_dir_problems(models_dir)]
    result.checked.append(f"models in {models_dir}")

    try:
        settings.create_store()
        result.checked.append(f"store {settings.app.store.backend}")
    except Exception as exc:   # BackendNotAvailable, a missing secret, an unimportable class path
        result.problems.append(f"{settings.config_path}: store.backend: {exc}")
    return result

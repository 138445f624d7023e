"""Source health (采集健康): per crawl source, what its crawls fetched, delivered and failed at, kept in
the store's state (key `source_health:<name>`) so the CLI (`yuqing sources`), the workbench and the
source_silent rule read one record whichever process crawled.

A source that is refused (HTTP 403/429, a login wall, a captcha) is counted as *blocked*: it is the
failure an office must hear about, since the crawl otherwise "succeeds" with nothing in it.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from .schema import aware

KEY_PREFIX = "source_health:"
# error kinds (crawler.metrics) that mean the site refused us rather than failed
BLOCKED_KINDS = ("http_403", "http_429", "http_418", "http_432", "login_wall", "captcha", "banned", "rate_limited")


class CrawlCounts(BaseModel):
    pages: int = 0
    written: int = 0
    skipped_seen: int = 0
    errors: int = 0
    blocked: int = 0
    ignored: int = 0
    error_kinds: dict[str, int] = Field(default_factory=dict)

    def add(self, other: "CrawlCounts") -> "CrawlCounts":
        kinds = dict(self.error_kinds)
        for k, v in other.error_kinds.items():
            kinds[k] = kinds.get(k, 0) + v
        sums = {name: getattr(self, name) + getattr(other, name) for name in type(self).model_fields
                if name != "error_kinds"}
        return CrawlCounts(**sums, error_kinds=kinds)


class SourceHealth(BaseModel):
    name: str
    runs: int = 0
    failed_runs: int = 0
    consecutive_failures: int = 0
    last_run_at: datetime | None = None
    last_success_at: datetime | None = None       # a crawl that finished and fetched pages
    last_delivery_at: datetime | None = None      # a crawl that delivered at least one new post
    last_failure: str | None = None
    last: CrawlCounts = Field(default_factory=CrawlCounts)
    total: CrawlCounts = Field(default_factory=CrawlCounts)

    @property
    def status(self) -> str:
        """ok | blocked | failing | never (a word for tables)."""
        if not self.runs:
            return "never"
        if self.last.blocked:
            return "blocked"
        return "failing" if self.consecutive_failures else "ok"


def counts_of(report: dict[str, Any]) -> CrawlCounts:
    """The counts of one source's crawl report (crawler.runner.SourceReport.as_dict())."""
    kinds = {str(k): int(v) for k, v in (report.get("error_kinds") or {}).items()}
    return CrawlCounts(pages=int(report.get("pages", 0)), written=int(report.get("written", 0)),
                       skipped_seen=int(report.get("skipped_seen", 0)), errors=int(report.get("errors", 0)),
                       blocked=sum(v for k, v in kinds.items() if k in BLOCKED_KINDS),
                       ignored=int(report.get("ignored", 0)), error_kinds=kinds)


def load(state, name: str) -> SourceHealth:
    raw = state.get_state(KEY_PREFIX + name)
    return SourceHealth.model_validate_json(raw) if raw else SourceHealth(name=name)


def record(state, name: str, report: dict[str, Any], at: datetime, ok: bool | None = None) -> SourceHealth:
    """Fold one crawl's report into the source's record and store it."""
    health = load(state, name)
    counts = counts_of(report)
    ok = bool(report.get("ok")) if ok is None else ok
    at = aware(at)
    health.runs += 1
    health.last_run_at = at
    health.last = counts
    health.total = health.total.add(counts)
    if ok:
        health.last_success_at, health.consecutive_failures = at, 0
    else:
        health.failed_runs += 1
        health.consecutive_failures += 1
        finish = report.get("finish_reason")
        health.last_failure = (report.get("failure")
                               or ", ".join(f"{k}×{v}" for k, v in sorted(counts.error_kinds.items()))
                               or (f"stopped: {finish}" if finish and finish != "finished" else "no pages fetched"))
    if counts.written:
        health.last_delivery_at = at
    state.set_state(KEY_PREFIX + name, health.model_dump_json())
    return health


def dump(health: SourceHealth) -> dict[str, Any]:
    return {**health.model_dump(mode="json"), "status": health.status}

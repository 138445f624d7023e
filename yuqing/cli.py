"""`yuqing` command line.

Exit codes: 0 success, 1 the job ran but failed, 2 bad usage or configuration,
3 storage unavailable (try again later).
"""
from __future__ import annotations

import argparse
import html
import json
import logging
import os
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path

from .config import ConfigError, Settings, load_settings
from .logs import setup_logging

log = logging.getLogger("yuqing")

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_STORE = 0, 1, 2, 3
DEFAULT_CONFIG = os.environ.get("YUQING_CONFIG", "configs/app.yaml")


def _parse_time(value: str) -> datetime:
    """An ISO time; without an offset it is read in the configured `timezone` (see _at)."""
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date/time: {value!r} (e.g. 2026-11-20T07:30)") from None


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(args.config)


def _at(value: datetime | None, settings: Settings) -> datetime | None:
    """A time from the command line in the office's zone (app.yaml `timezone`) when it gave no offset."""
    from index.schema import aware
    return aware(value, settings.tz) if value is not None else None


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo_flow import run_demo
    summary = run_demo(Path(args.out), keep=args.keep, rules=Path(args.rules) if args.rules else None)
    print(summary.render())
    if not summary.ok:
        for problem in summary.problems:
            print(f"yuqing demo: {problem}", file=sys.stderr)
    return EXIT_OK if summary.ok else EXIT_FAILED


def cmd_run(args: argparse.Namespace) -> int:
    from .service import Service
    return Service(_settings(args)).run()


def cmd_crawl(args: argparse.Namespace) -> int:
    from .jobs import App
    settings = _settings(args)
    for name in args.source or []:
        settings.source(name)  # fail early on unknown names
    report = App(settings).crawl_in_process(args.source or None)
    print(json.dumps(report.as_dict(), ensure_ascii=False, default=str))
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_crawl_extract(args: argparse.Namespace) -> int:
    """`yuqing crawl extract PAGE.html [--url URL] [--source NAME]`: what the spiders would take from a
    saved page (the same extractor, with the source's detail selectors), as JSON."""
    from crawler.config import DetailRules
    from crawler.extract.article import ArticleExtractor, ExtractionError
    from crawler.extract.encoding import decode_page
    settings = _settings(args)
    rules = settings.source(args.source).detail if args.source else DetailRules()
    try:
        body = Path(args.page).read_bytes() if args.page != "-" else sys.stdin.buffer.read()
    except OSError as exc:
        print(f"crawl extract: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    html, encoding = decode_page(body)
    now = _at(args.now, settings) or settings.now()
    try:
        page = ArticleExtractor(rules, settings.tz).extract(html, args.url, now=now)
    except (ExtractionError, ValueError) as exc:
        print(f"crawl extract: {args.page}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps({"title": page.title, "published_at": page.published_at.isoformat() if page.published_at else None,
                      "published_from": page.published_from, "author": page.author, "body": page.content,
                      "encoding": encoding, "extra": page.extra}, ensure_ascii=False, indent=2))
    return EXIT_OK


def cmd_crawl_evaluate(args: argparse.Namespace) -> int:
    """`yuqing crawl evaluate --pages DIR --expected FILE`: the extractor against hand-checked pages,
    next to plain trafilatura (crawler.extract.evaluate)."""
    from crawler.extract.evaluate import evaluate, load_expected, ours, split_of, trafilatura_baseline
    settings = _settings(args)
    try:
        expected = load_expected(Path(args.expected))
    except (OSError, ValueError) as exc:
        print(f"crawl evaluate: {args.expected}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    now = _at(args.now, settings)       # None: the pages' capture time is unknown
    splits = ["dev", "test", "all"] if args.split == "each" else [args.split]
    rows = []
    for split in splits:
        files = None if split == "all" else {e["file"] for e in expected if split_of(e["file"]) == split}
        for name, extract in (("yuqing", ours(settings.tz)), ("trafilatura (baseline)", trafilatura_baseline(settings.tz))):
            score = evaluate(Path(args.pages), expected, extract, name, now=now, files=files)
            rows.append({"split": split, **score.as_dict()})
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        print(f"{'split':<6} {'extractor':<24} {'pages':>5} {'title':>7} {'date':>7} {'body F1':>8}")
        for r in rows:
            print(f"{r['split']:<6} {r['extractor']:<24} {r['pages']:>5} {r['title_accuracy']:>7.1%} "
                  f"{r['date_accuracy']:>7.1%} {r['body_f1']:>8.3f}")
    return EXIT_OK


def cmd_sources(args: argparse.Namespace) -> int:
    """`yuqing sources [--json]`: every configured source with its crawl health (index.health)."""
    from index import health
    from .jobs import App
    settings = _settings(args)
    app = App(settings)
    try:
        rows = []
        for source in settings.sources.sources:
            record = health.load(app.store, source.name)
            rows.append({"name": source.name, "type": source.type, "enabled": source.enabled,
                         "label": source.label, **health.dump(record)})
    finally:
        app.close()
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2, default=str))
        return EXIT_OK

    def when(value) -> str:
        return datetime.fromisoformat(value).astimezone(settings.tz).strftime("%m-%d %H:%M") if value else "—"
    print(f"{'source':<16} {'type':<10} {'status':<8} {'last run':<12} {'last ok':<12} {'last new':<12} "
          f"{'pages':>6} {'new':>5} {'errors':>6} {'blocked':>7}  problem")
    for r in rows:
        last = r["last"]
        status = r["status"] if r["enabled"] else "disabled"
        problem = r["last_failure"] if r["consecutive_failures"] else ""
        print(f"{r['name']:<16} {r['type']:<10} {status:<8} {when(r['last_run_at']):<12} {when(r['last_success_at']):<12} "
              f"{when(r['last_delivery_at']):<12} {last['pages']:>6} {last['written']:>5} {last['errors']:>6} "
              f"{last['blocked']:>7}  {problem}")
    return EXIT_OK


def cmd_enrich(args: argparse.Namespace) -> int:
    from .jobs import App
    app = App(_settings(args))
    try:
        report = app.enrich_pending()
    finally:
        app.close()
    print(json.dumps(report.__dict__, ensure_ascii=False))
    # A quarantined batch did not get in: the run went on, but it did not fully succeed.
    return EXIT_FAILED if report.failed_batches or report.quarantined else EXIT_OK


def cmd_inbox_list(args: argparse.Namespace) -> int:
    from .jobs import App
    status = App(_settings(args)).inbox.status()
    if args.json:
        print(json.dumps({"counts": status.counts(), **status.__dict__}, ensure_ascii=False))
        return EXIT_OK
    for state, names in status.__dict__.items():
        print(f"{state}: {len(names)}")
        for name in names:
            print(f"  {name}")
    return EXIT_OK


def cmd_inbox_retry(args: argparse.Namespace) -> int:
    from .jobs import App
    inbox = App(_settings(args)).inbox
    try:
        moved = inbox.retry(args.names)
    except KeyError as exc:
        print(f"inbox retry: {exc.args[0]}", file=sys.stderr)
        return EXIT_CONFIG
    for name in moved:
        print(f"back in the inbox: {name}")
    log.info("quarantined batches retried", extra={"files": moved, "inbox": str(inbox.dir)})
    return EXIT_OK


def cmd_warn(args: argparse.Namespace) -> int:
    from .jobs import App
    settings = _settings(args)
    app = App(settings)
    try:
        changes = app.evaluate_warnings(_at(args.at, settings))
    finally:
        app.close()
    for change in changes:
        a = change.alert
        print(f"[{a.level}] {change.kind:9s} {a.title} → {a.agency_name or a.agency} ({a.id})")
    return EXIT_OK


def cmd_replay(args: argparse.Namespace) -> int:
    """`yuqing warn replay`: cascades among background posts through the real pipeline in simulated time."""
    from .replay import ReplayInputError, ReplayOptions, run_replay
    from .replay.report import render
    if not args.verbose:       # per-tick INFO lines would bury the progress bar
        for name in ("yuqing", "nlp", "index", "warning"):
            logging.getLogger(name).setLevel(logging.WARNING)
    data = args.data or os.environ.get("YUQING_SHARED_DATA")
    options = ReplayOptions(
        cascades=Path(args.cascades), background=Path(args.background) if args.background else None,
        data_dir=Path(data) if data else None, days=args.days, warmup_days=args.warmup_days, start=args.start,
        seed=args.seed, split=args.split, limit=args.limit, sample=args.sample,
        rules=Path(args.rules) if args.rules else None, interval_minutes=args.interval,
        background_per_day=args.background_per_day, progress=not args.no_progress,
        keep=Path(args.keep) if args.keep else None)
    try:
        result = run_replay(args.config, options)
    except ReplayInputError as exc:
        print(f"warn replay: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.json:
        print(json.dumps(result.as_dict(), ensure_ascii=False))
    else:
        print(render(result, _settings(args).tz))
    return EXIT_OK


def add_replay_parser(sub) -> None:
    from .replay.background import DEFAULT_PER_DAY
    from .replay.cascades import SPLITS
    q = sub.add_parser("replay", help="measure detection: replay repost cascades among background posts "
                                      "in simulated time (recall, delays, false alerts)")
    # SUPPRESS: `yuqing warn --config X replay` keeps X (a subparser default would overwrite it).
    q.add_argument("--config", default=argparse.SUPPRESS, help="app.yaml (default: that of `warn`)")
    q.add_argument("--cascades", required=True, help="cascades in the CED format (JSONL, .gz allowed), e.g. "
                                                     "../shared/data/weibo_propagation/ced_cascades.jsonl.gz")
    q.add_argument("--background", help="JSONL of posts as background (default: generated from --data)")
    q.add_argument("--data", help="shared data folder for the generated background "
                                  "(default: $YUQING_SHARED_DATA, else app.yaml nlp.shared_data)")
    q.add_argument("--background-per-day", type=float, default=DEFAULT_PER_DAY,
                   help="generated background posts per day (default: %(default)s; 0: none)")
    q.add_argument("--days", type=int, default=3, help="simulated days with cascades (default: %(default)s)")
    q.add_argument("--warmup-days", type=int, default=7,
                   help="days of background only before them, for the rules' baselines (default: %(default)s)")
    q.add_argument("--start", default="2024-05-06", help="first simulated day, YYYY-MM-DD (default: %(default)s)")
    q.add_argument("--rules", help="a rules.yaml to use instead of the configured one")
    q.add_argument("--interval", type=float, help="minutes between evaluations "
                                                   "(default: app.yaml schedule.warning.interval_minutes)")
    q.add_argument("--split", choices=SPLITS, default="test",
                   help="half of the cascades (by a hash of their id): tune rules on tune, report on test "
                        "(default: %(default)s)")
    q.add_argument("--limit", type=int, help="at most this many cascades (a seeded sample)")
    q.add_argument("--sample", type=float, help="this fraction of the split's cascades (a seeded sample)")
    q.add_argument("--seed", type=int, default=0, help="placement, background and sampling seed")
    q.add_argument("--keep", metavar="DIR", help="keep the replay's store and notified alerts (alerts.jsonl) "
                                                 "in DIR, an empty or new folder (default: a temporary folder)")
    q.add_argument("--json", action="store_true", help="one JSON object instead of tables")
    q.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    q.add_argument("--verbose", action="store_true", help="keep the per-tick INFO logs")
    q.set_defaults(func=cmd_replay)


def cmd_brief(args: argparse.Namespace) -> int:
    from .jobs import App
    settings = _settings(args)
    app = App(settings)
    try:
        path = app.write_briefing(_at(args.at, settings), hours=args.hours)
    finally:
        app.close()
    print(path)
    return EXIT_OK


def cmd_report_response(args: argparse.Namespace) -> int:
    """`yuqing report response --period 2026-11 [--out DIR]`: department response metrics (考核评价)."""
    from warning.reports.response import collect, period_bounds, to_csv, to_table
    from .jobs import App
    settings = _settings(args)
    try:
        start, end = period_bounds(args.period, settings.tz)
    except ValueError as exc:
        print(f"report response: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    app = App(settings)
    try:
        rows = collect(app.store, settings.agencies, start, end, settings.now())
    finally:
        app.close()
    print(f"{settings.app.office_name} 部门响应评价 {args.period}（{start:%Y-%m-%d} 至 {end - timedelta(seconds=1):%Y-%m-%d}，"
          f"按预警首次发现时间计）")
    print(to_table(rows), end="")
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"response-{args.period}.csv"
        path.write_text(to_csv(rows), encoding="utf-8-sig")   # with a BOM: Excel opens it as UTF-8
        print(path)
    return EXIT_OK


def cmd_dead_letters(args: argparse.Namespace) -> int:
    from warning.deadletters import DeadLetters
    from .jobs import App
    settings = _settings(args)
    app = App(settings)
    try:
        letters = DeadLetters(app.store).list()
    finally:
        app.close()
    for x in letters:
        if args.json:
            print(json.dumps(x.__dict__, ensure_ascii=False))
        else:
            print(f"{x.id}  {x.at[:16]}  {x.notifier}  {x.change}  [{x.level}] {x.title}  ({x.alert_id})\n    {x.error}")
    if not letters and not args.json:
        print("no dead letters")
    return EXIT_OK


def cmd_resend(args: argparse.Namespace) -> int:
    from .jobs import App
    app = App(_settings(args))
    try:
        alert = app.resend_dead_letter(args.id)
    except KeyError as exc:
        print(f"notify resend: {exc.args[0]}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # noqa: BLE001 - the channel's own error, shown as is; the letter stays
        print(f"notify resend: {args.id} not delivered: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        app.close()
    print(f"{args.id}: delivered ({alert.id})")
    return EXIT_OK


def cmd_report_daily(args: argparse.Namespace) -> int:
    """`yuqing report daily --date 2026-11-19 [--format html,docx,pdf] [--out DIR]`: the 日报."""
    from warning.reports.daily import RENDERERS, PdfUnavailable
    from .jobs import App
    settings = _settings(args)
    formats = [f.strip() for f in args.format.split(",") if f.strip()] if args.format else None
    if formats is not None and (not formats or set(formats) - set(RENDERERS)):
        print(f"report daily: --format {args.format!r}: use html, docx, pdf or a list (html,docx,pdf)", file=sys.stderr)
        return EXIT_CONFIG
    try:
        day = date.fromisoformat(args.date) if args.date else None
        at = time.fromisoformat(args.time) if args.time else None
    except ValueError as exc:
        print(f"report daily: {exc} (--date YYYY-MM-DD, --time HH:MM)", file=sys.stderr)
        return EXIT_CONFIG
    app = App(settings)
    try:
        end = app.daily_report_end(day or settings.now().astimezone(settings.tz).date(), at) if (day or at) else None
        paths = app.write_daily_report(formats=formats, out_dir=Path(args.out) if args.out else None, end=end)
        if args.mail:
            sent = app.mail_daily_report(paths, end or settings.now())
            print(f"mailed to {sent} subscriber(s) (those who had this issue already are skipped)", file=sys.stderr)
    except PdfUnavailable as exc:
        print(f"report daily: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    finally:
        app.close()
    for path in paths:
        print(path)
    return EXIT_OK


def cmd_report_event(args: argparse.Namespace) -> int:
    """`yuqing report event ALERT_OR_EVENT_ID --format html,docx [--out DIR]`: the 专报."""
    from warning.reports.event_report import ReportError
    from .jobs import App
    settings = _settings(args)
    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    unknown = sorted(set(formats) - {"html", "docx"})
    if unknown or not formats:
        print(f"report event: --format {args.format!r}: use html, docx or both (html,docx)", file=sys.stderr)
        return EXIT_CONFIG
    app = App(settings)
    try:
        paths = app.write_event_report(args.id, formats, Path(args.out) if args.out else None)
    except ReportError as exc:
        print(f"report event: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        app.close()
    for path in paths:
        print(path)
    return EXIT_OK


def cmd_search(args: argparse.Namespace) -> int:
    import unicodedata

    from index import querylang
    from index.store import PostQuery
    from nlp.privacy import mask_pii

    from .jobs import App
    text = " ".join(args.words) or None
    try:
        querylang.parse(text)      # refused before the store opens; exit 2 as argparse's usage errors
    except querylang.QuerySyntaxError as exc:
        # A caret under the position; CJK characters take two columns.
        width = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in (text or "")[:exc.position - 1])
        print(f"search: {exc}\n  {text}\n  {' ' * width}^\n(see docs/search.md or yuqing search --help)",
              file=sys.stderr)
        return EXIT_CONFIG
    settings = _settings(args)
    app = App(settings)
    try:
        query = PostQuery(text=text, start=_at(args.since, settings),
                          end=_at(args.until, settings),
                          sentiments=tuple(args.sentiment or ()), polarities=tuple(args.polarity or ()),
                          topics=tuple(args.topic or ()),
                          platforms=tuple(args.platform or ()), region_codes=tuple(args.region or ()),
                          schemes=_check_schemes(args.scheme, settings))
        result = app.store.search(query, size=args.size, sort=args.sort)
    finally:
        app.close()
    print(f"{result.total} posts")
    for hit in result.hits:
        p = hit.post
        snippet = mask_pii(hit.highlight or p.text[:80]).replace("\n", " ")
        snippet = html.unescape(snippet.replace("<em>", "【").replace("</em>", "】"))
        print(f"{p.published_at.astimezone(settings.tz):%m-%d %H:%M} {p.platform:9s} {p.polarity_label or '-'} {p.topic or '-'}  {snippet}")
    return EXIT_OK


def _check_schemes(names: list[str] | None, settings: Settings) -> tuple[str, ...]:
    known = settings.topics.scheme_names
    for name in names or ():
        if name not in known:
            raise ConfigError(f"--scheme {name!r}: no such monitoring scheme in "
                              f"{settings.file('topics')} (schemes: {', '.join(sorted(known)) or 'none'})")
    return tuple(names or ())


def cmd_schemes_list(args: argparse.Namespace) -> int:
    """The configured schemes, their word groups, and how many posts each tagged lately."""
    from datetime import timedelta

    from index.schema import now
    from index.store import PostQuery

    from .jobs import App
    settings = _settings(args)
    schemes = settings.topics.schemes
    if not schemes:
        print(f"no monitoring schemes in {settings.file('topics')} (add a `schemes:` list)")
        return EXIT_OK
    app = App(settings)
    try:
        end = _at(args.at, settings) or now()
        counts = {b.key: b.count for b in app.store.terms(PostQuery(start=end - timedelta(days=args.days), end=end),
                                                          "schemes", size=len(schemes) + 10)}
    finally:
        app.close()
    rows = []
    for s in schemes:
        groups = {"主体": s.subject, "地域": [*s.region, *s.region_codes], "事件": s.event, "排除": s.exclude}
        rows.append({"name": s.name, "enabled": s.enabled, "description": s.description,
                     "groups": {k: v for k, v in groups.items() if v}, f"posts_last_{args.days}d": counts.get(s.name, 0)})
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return EXIT_OK
    for row in rows:
        state = "" if row["enabled"] else "（停用）"
        print(f"{row['name']}{state}: {row[f'posts_last_{args.days}d']} 条 / 近{args.days}天"
              + (f" — {row['description']}" if row["description"] else ""))
        for group, words in row["groups"].items():
            print(f"  {group}: {' | '.join(words)}")
    return EXIT_OK


def cmd_schemes_test(args: argparse.Namespace) -> int:
    """Which schemes a text matches, to try a scheme before it tags the stream."""
    from nlp.schemes import SchemeMatcher
    settings = _settings(args)
    text = " ".join(args.text) if args.text else sys.stdin.read()
    codes = tuple(args.region or ())
    if not codes:     # the region enrichment would find, so 地域代码 groups answer as in the stream
        from nlp.regions import RegionExtractor
        from nlp.segment import default_segmenter
        region = RegionExtractor.default(settings.topics.home_region, default_segmenter()).extract(text)
        codes = region.codes if region else ()
        print(f"地区: {region.name if region else '（未识别）'} {' '.join(codes)}".rstrip(), file=sys.stderr)
    matched = SchemeMatcher(settings.topics.schemes).match_text(text, codes)
    print("\n".join(matched) if matched else "(no scheme matches)")
    return EXIT_OK if matched else EXIT_FAILED


def _stored_posts_pass(args: argparse.Namespace, method: str, done: str) -> int:
    """One pass of an App method over the stored posts published in [--since, --until)."""
    from .jobs import App
    settings = _settings(args)
    app = App(settings)
    try:
        read, changed = getattr(app, method)(_at(args.since, settings), _at(args.until, settings),
                                             progress=not args.no_progress)
    finally:
        app.close()
    print(f"{read} stored posts read, {changed} {done}")
    return EXIT_OK


def cmd_schemes_apply(args: argparse.Namespace) -> int:
    return _stored_posts_pass(args, "retag_schemes", "re-tagged")


def cmd_reenrich(args: argparse.Namespace) -> int:
    return _stored_posts_pass(args, "reenrich", "re-enriched with changes")


def cmd_alerts(args: argparse.Namespace) -> int:
    """`yuqing alerts [--status …] [--agency …] [--level …] [--overdue] [--as USER]`: the listing."""
    from warning.explain import episode_state
    from warning.labels import STATUS_LABELS
    from warning.lifecycle import Directory, PermissionDenied, is_overdue
    from .jobs import App
    settings = _settings(args)
    app = App(settings)
    try:
        # agencies also see what was reported to them: filter here, alerts are few
        alerts = app.store.list_alerts(statuses=tuple(args.status or ()), limit=100_000)
    finally:
        app.close()
    now = settings.now()
    if args.agency:
        unknown = [a for a in args.agency if settings.agencies.agency(a) is None]
        if unknown:
            raise ConfigError(f"--agency: unknown agency {', '.join(unknown)}; the agencies file has "
                              f"{', '.join(a.id for a in settings.agencies.agencies)}")
        alerts = [a for a in alerts if (a.agency or settings.agencies.default_agency) in args.agency
                  or set(a.reported_to) & set(args.agency)]
    if args.level:
        alerts = [a for a in alerts if a.level in args.level]
    if args.overdue:
        alerts = [a for a in alerts if is_overdue(a, now)]
    if args.as_user:
        directory = Directory(settings.agencies, app.people())
        try:
            directory.check_user(args.as_user)
        except PermissionDenied as exc:
            print(f"alerts: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        alerts = directory.visible(args.as_user, alerts)
    alerts = alerts[: args.limit]
    if args.json:
        for a in alerts:
            print(json.dumps({"id": a.id, "level": a.level, "status": a.status, "agency": a.agency,
                              "reported_to": a.reported_to, "assignee": a.assignee, "overdue": is_overdue(a, now),
                              "title": a.title, "last_seen": a.last_seen.isoformat()}, ensure_ascii=False))
        return EXIT_OK
    for a in alerts:
        # The episode's state (进行中 / 已平息（…）) first, then the office's handling status.
        flags = " · 逾期" if is_overdue(a, now) else ""
        print(f"[{a.level}] {episode_state(a, settings.tz)} · {STATUS_LABELS.get(a.status, a.status)}{flags} · "
              f"最近触发 {a.last_seen.astimezone(settings.tz):%m-%d %H:%M} {a.title} → {a.agency_name or a.agency}"
              f"  {a.id}")
    return EXIT_OK


def cmd_alert_show(args: argparse.Namespace) -> int:
    from warning.lifecycle import LifecycleError
    from warning.notifiers.text import alert_text
    from .jobs import App
    settings = _settings(args)
    app = App(settings)
    try:
        alert = app.alert_desk().get(args.id, args.by)
    except LifecycleError as exc:
        print(f"alerts show: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        app.close()
    if args.json:
        print(alert.model_dump_json(indent=2))
    else:
        print(alert_text(alert, None, settings.tz), end="")
    return EXIT_OK


def _duration_arg(value: str):
    from warning.durations import parse_duration
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_alert_action(args: argparse.Namespace) -> int:
    """ack / assign / handle / resolve / false-positive / reopen / comment / silence ID --by USER."""
    from warning.labels import STATUS_LABELS
    from warning.lifecycle import LifecycleError
    from .jobs import App
    settings = _settings(args)
    until = _at(getattr(args, "until", None), settings)
    if getattr(args, "for_", None) is not None:
        until = settings.now() + args.for_
    app = App(settings)
    try:
        alert = app.alert_action(args.id, args.action, args.by, note=args.note,
                                 assignee=getattr(args, "to", None), until=until)
    except LifecycleError as exc:
        print(f"alerts {args.action}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        app.close()
    extra = f"，承办人 {alert.assignee}" if args.action == "assign" else ""
    if args.action == "silence" and alert.silenced_until:
        extra = f"，静默至 {alert.silenced_until.astimezone(settings.tz):%Y-%m-%d %H:%M}"
    print(f"{alert.id}: {STATUS_LABELS.get(alert.status, alert.status)}{extra}")
    return EXIT_OK


def cmd_init(args: argparse.Namespace) -> int:
    from .office_init import InitRefused, write_config_set
    try:
        written = write_config_set(Path(args.dir), force=args.force)
    except InitRefused as exc:
        print(f"yuqing init: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    for path in written:
        print(path)
    print(f"next: edit them, then `yuqing config check --config {written[0]}`")
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    """Everything the service checks at start (yuqing.checks.preflight); non-zero exit on any problem."""
    from .checks import preflight
    s = _settings(args)
    result = preflight(s)
    if not result.ok:
        for problem in result.problems:
            print(problem, file=sys.stderr)
        print(f"{s.config_path}: {len(result.problems)} problem(s)", file=sys.stderr)
        return EXIT_CONFIG
    print(f"{s.config_path}: OK — {', '.join(result.checked)}; {len(s.topics.topics)} topics, "
          f"{len(s.agencies.agencies)} agencies, timezone {s.app.timezone}")
    return EXIT_OK


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="yuqing", description="舆情哨兵 Yuqing Sentinel")
    parser.add_argument("--log-level", default=os.environ.get("YUQING_LOG_LEVEL", "INFO"), type=str.upper,
                        choices=LOG_LEVELS, help="DEBUG, INFO, WARNING or ERROR, any case (default: "
                                                 "$YUQING_LOG_LEVEL, else INFO)")
    parser.add_argument("--log-format", default="console", choices=["console", "json"])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--config", default=DEFAULT_CONFIG, help="app.yaml (default: %(default)s)")
        return p

    p = sub.add_parser("demo", help="run the whole flow offline against the bundled demo internet")
    p.add_argument("--out", default="var/demo", help="output folder (default: %(default)s)")
    p.add_argument("--keep", action="store_true", help="keep data from an earlier demo run")
    p.add_argument("--rules", help="use this rules.yaml instead of the shipped one (e.g. to see the demo fail)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("init", help="write an editable configuration set for a new office into DIR")
    p.add_argument("dir", help="folder for app.yaml, sources.yaml, topics.yaml, rules.yaml, agencies.yaml")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.set_defaults(func=cmd_init)

    p = with_config(sub.add_parser("run", help="run the scheduled service until SIGINT/SIGTERM"))
    p.set_defaults(func=cmd_run)

    p = with_config(sub.add_parser("crawl", help="crawl sources once, into the inbox; crawl extract PAGE: test "
                                                  "the extractor on a saved page"))
    p.add_argument("--source", action="append", help="source name (repeatable; default: all enabled)")
    p.set_defaults(func=cmd_crawl)
    csub = p.add_subparsers(dest="crawl_command", required=False, metavar="[extract|evaluate]")
    q = with_config(csub.add_parser("extract", help="title, publish time, author and body of a saved page, as JSON "
                                                    "(the spiders' extractor; --source adds that source's selectors)"))
    q.add_argument("page", help="a saved HTML file (any encoding), or - for standard input")
    q.add_argument("--url", help="the page's address (resolves links; helps the extractor)")
    q.add_argument("--source", help="a news/board source in sources.yaml whose detail: selectors apply")
    q.add_argument("--now", type=_parse_time, help="the crawl time that dates without a year are read against "
                                                  "(default: now)")
    q.set_defaults(func=cmd_crawl_extract)
    q = with_config(csub.add_parser("evaluate", help="the extractor against hand-checked pages (title, date, body "
                                                     "F1), next to plain trafilatura"))
    q.add_argument("--pages", required=True, help="folder of saved pages")
    q.add_argument("--expected", required=True, help="JSON lines: file, title, published_at, body (see "
                                                     "crawler/extract/evaluate.py)")
    q.add_argument("--split", choices=["dev", "test", "all", "each"], default="each",
                   help="dev: the half looked at while improving the extractor; test: the other (default: each)")
    q.add_argument("--now", type=_parse_time, help="when the pages were saved, for relative and year-less dates "
                                                  "(default: unknown — such dates give no publish time)")
    q.add_argument("--json", action="store_true", help="per-page failures too")
    q.set_defaults(func=cmd_crawl_evaluate)

    p = with_config(sub.add_parser("sources", help="the configured sources and their crawl health: last run, last "
                                                    "success, last new post, pages, errors, blocked (403/429/captcha)"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_sources)

    p = with_config(sub.add_parser("enrich", help="enrich the inbox into the store"))
    p.set_defaults(func=cmd_enrich)

    p = with_config(sub.add_parser("reenrich", help="run the current models over stored posts again "
                                                    "(after a model upgrade; gives old posts their polarity)"))
    p.add_argument("--since", type=_parse_time, help="posts published from (default: all)")
    p.add_argument("--until", type=_parse_time, help="posts published before (default: all)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(func=cmd_reenrich)

    p = sub.add_parser("inbox", help="inspect the inbox; put quarantined batches back")
    isub = p.add_subparsers(dest="inbox_command", required=True, metavar="ACTION")
    q = with_config(isub.add_parser("list", help="pending, claimed, quarantined and rejected batches"))
    q.add_argument("--json", action="store_true", help="one JSON object instead of text")
    q.set_defaults(func=cmd_inbox_list)
    q = with_config(isub.add_parser("retry", help="move quarantined batches back into the inbox"))
    q.add_argument("names", nargs="*", help="batch file names (default: every quarantined batch)")
    q.set_defaults(func=cmd_inbox_retry)

    p = with_config(sub.add_parser("warn", help="evaluate warning rules once; `warn replay` measures detection"))
    p.add_argument("--at", type=_parse_time, default=None, help="evaluate as of this time (default: now)")
    p.set_defaults(func=cmd_warn)
    wsub = p.add_subparsers(dest="warn_command", required=False, metavar="ACTION")
    add_replay_parser(wsub)

    p = with_config(sub.add_parser("brief", help="write the daily briefing (HTML)"))
    p.add_argument("--at", type=_parse_time, default=None, help="briefing time (default: now)")
    p.add_argument("--hours", type=int, default=None, help="period length before --at (default: app.yaml daily_report.hours, 24)")
    p.set_defaults(func=cmd_brief)

    p = sub.add_parser("notify", help="notifications that did not get through: list and resend")
    nsub = p.add_subparsers(dest="notify_command", required=True, metavar="ACTION")
    q = with_config(nsub.add_parser("dead-letters", help="notifications a channel refused after its last attempt"))
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_dead_letters)
    q = with_config(nsub.add_parser("resend", help="send a dead letter again (exit 1 when it still fails)"))
    q.add_argument("id", help="dead-letter id (dl-…)")
    q.set_defaults(func=cmd_resend)

    p = sub.add_parser("report", help="reports: the daily report (日报), the event special report (专报), "
                                           "department response metrics")
    rsub = p.add_subparsers(dest="report_command", required=True, metavar="REPORT")
    q = with_config(rsub.add_parser("response", help="per agency: alerts received, time to acknowledge and resolve "
                                                     "(median, p90), overdue, false-positive share, reopened"))
    q.add_argument("--period", required=True, help="a month (2026-11), a day (2026-11-19) or an ISO week (2026-W47)")
    q.add_argument("--out", help="also write response-PERIOD.csv into this folder")
    q.set_defaults(func=cmd_report_response)
    q = with_config(rsub.add_parser("daily", help="the daily report (日报) in HTML, DOCX and PDF"))
    q.add_argument("--date", help="the issue's date, YYYY-MM-DD: the daily_report.hours (24) before the briefing "
                                  "time that day (default: the period ending now)")
    q.add_argument("--time", help="the briefing time, HH:MM (default: schedule.briefing's cron time, else 07:30)")
    q.add_argument("--format", help="html, docx, pdf or a list (default: app.yaml daily_report.formats)")
    q.add_argument("--out", help="folder (default: output_dir/briefings)")
    q.add_argument("--mail", action="store_true", help="also mail it to the subscribers with daily_report: true that "
                                                      "have not had this issue (e.g. after a failed delivery)")
    q.set_defaults(func=cmd_report_daily)
    q = with_config(rsub.add_parser("event", help="the event special report (专报) of an alert or event"))
    q.add_argument("id", help="alert id (yuqing alerts) or event id")
    q.add_argument("--format", default="html,docx", help="html, docx or html,docx (default: %(default)s)")
    q.add_argument("--out", help="folder (default: output_dir/reports)")
    q.set_defaults(func=cmd_report_event)

    p = with_config(sub.add_parser(
        "search", help="full-text search of stored posts", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Full-text search of stored posts. The query syntax is the web workbench's (docs/search.md).",
        epilog="""query syntax:
  暴雨 内涝                 words, all of them (AND)
  暴雨 OR 内涝              either; AND, OR, NOT in upper case only (and/or/not are words)
  暴雨 -内涝  暴雨 NOT 内涝   without 内涝; -"phrase" and -(group) too
  '"九江 内涝"'  “九江内涝”   a phrase: consecutive words (quote it for the shell)
  '(暴雨 OR 内涝) 九江'       grouping; full-width （） work too; NOT binds before AND, AND before OR
  field:value  field:"two words"   platform source polarity sentiment emotion topic
                            region (name or code) scheme author event title
examples:
  yuqing search '(暴雨 OR 内涝) region:九江市 -platform:news'
  yuqing search 'polarity:负面 title:"蓝色预警"'
  yuqing search -- -platform:weibo 积水        (a leading -word needs -- before it)
A query of NOT terms only searches every post except those. An unclosed quote runs to the end."""))
    p.add_argument("words", nargs="*", help="the query (see below); several words are joined by spaces")
    p.add_argument("--since", type=_parse_time)
    p.add_argument("--until", type=_parse_time)
    p.add_argument("--polarity", action="append", choices=["负面", "中性", "正面"],
                   help="舆情倾向 (what warnings count): 负面 = harm, wrongdoing, a grievance, whatever the tone")
    p.add_argument("--sentiment", action="append", choices=["负面", "中性", "正面"], help="the writer's tone")
    p.add_argument("--topic", action="append")
    p.add_argument("--platform", action="append")
    p.add_argument("--region", action="append", help="region code, e.g. 3604 or 360402")
    p.add_argument("--scheme", action="append", help="monitoring scheme name from topics.yaml (repeatable: any of them)")
    p.add_argument("--size", type=int, default=20)
    p.add_argument("--sort", default="newest", choices=["relevance", "newest", "oldest", "engagement"])
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("schemes", help="monitoring schemes (监测方案) of topics.yaml: list, try, re-tag stored posts")
    ssub = p.add_subparsers(dest="schemes_command", required=True, metavar="ACTION")
    q = with_config(ssub.add_parser("list", help="each scheme's word groups and the posts it tagged lately"))
    q.add_argument("--days", type=int, default=7, help="count tagged posts over this many days (default: %(default)s)")
    q.add_argument("--at", type=_parse_time, default=None, help="count up to this time (default: now)")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_schemes_list)
    q = with_config(ssub.add_parser("test", help="which schemes a text matches (exit 1: none)"))
    q.add_argument("text", nargs="*", help="the text (default: read standard input)")
    q.add_argument("--region", action="append",
                   help="the post's region code, e.g. 360402 (default: the region enrichment finds in the text)")
    q.set_defaults(func=cmd_schemes_test)
    q = with_config(ssub.add_parser("apply", help="re-tag stored posts after the schemes changed"))
    q.add_argument("--since", type=_parse_time)
    q.add_argument("--until", type=_parse_time)
    q.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    q.set_defaults(func=cmd_schemes_apply)

    p = with_config(sub.add_parser(
        "alerts", help="list alerts, or act on one (show / ack / assign / handle / resolve / false-positive / "
                       "reopen / comment / silence)",
        description="Without an action: the listing, newest first. With one: the alert lifecycle "
                    "(docs/closed-loop.md); every action is recorded with who, when and the note."))
    p.add_argument("--status", action="append", choices=["new", "acknowledged", "handling", "resolved",
                                                          "false_positive"], help="repeatable")
    p.add_argument("--agency", action="append", help="routed or reported to this agency id (repeatable)")
    p.add_argument("--level", action="append", choices=["蓝", "黄", "橙", "红"], help="repeatable")
    p.add_argument("--overdue", action="store_true", help="only alerts past a response deadline")
    p.add_argument("--as", dest="as_user", metavar="USER", help="only what USER may see")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=cmd_alerts)
    asub = p.add_subparsers(dest="alerts_command", metavar="ACTION")

    def alert_parser(name: str, help_: str, *, note_required: bool = False) -> argparse.ArgumentParser:
        q = asub.add_parser(name, help=help_)
        q.add_argument("--config", default=argparse.SUPPRESS, help="app.yaml (default: as given before the action)")
        q.add_argument("id", help="alert id (as `yuqing alerts` lists it)")
        q.add_argument("--by", required=True, metavar="USER", help="who acts: a member id or admin in agencies.yaml")
        q.add_argument("--note", required=note_required, help="what was done or why" +
                       (" (required)" if note_required else ""))
        q.set_defaults(func=cmd_alert_action, action=name)
        return q

    q = asub.add_parser("show", help="one alert in full, with its handling record")
    q.add_argument("--config", default=argparse.SUPPRESS, help="app.yaml (default: as given before the action)")
    q.add_argument("id")
    q.add_argument("--by", metavar="USER", help="refuse unless USER may see it")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_alert_show)
    alert_parser("ack", "acknowledge (签收)")
    alert_parser("handle", "start handling (处置中)")
    alert_parser("resolve", "resolve (办结), with a note", note_required=True)
    alert_parser("false-positive", "mark a false alarm (误报), with a note", note_required=True)
    alert_parser("reopen", "reopen a resolved or false-positive alert, with a note", note_required=True)
    alert_parser("comment", "add a note without changing the status", note_required=True)
    alert_parser("assign", "assign to a person").add_argument("--to", required=True, metavar="USER")
    q = alert_parser("silence", "no reminders or overdue reports until a time, with a note", note_required=True)
    when = q.add_mutually_exclusive_group(required=True)
    when.add_argument("--until", type=_parse_time, help="ISO time (office zone without an offset)")
    when.add_argument("--for", dest="for_", type=_duration_arg, help="e.g. 2h, 1d")

    p = sub.add_parser("config", help="configuration tools")
    csub = p.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    with_config(csub.add_parser("check", help="validate all configuration files")).set_defaults(func=cmd_check)

    try:
        from nlp.cli import register as register_nlp
    except ImportError:  # pragma: no cover - nlp extras missing
        pass
    else:
        register_nlp(sub)
    from index.elasticsearch.kibana import register as register_kibana
    register_kibana(sub)
    from .web_cli import register as register_web
    register_web(sub, with_config)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.log_level not in LOG_LEVELS:   # argparse does not check a default (YUQING_LOG_LEVEL) against choices
        parser.error(f"YUQING_LOG_LEVEL={os.environ.get('YUQING_LOG_LEVEL')!r}: not a log level; "
                     f"use one of {', '.join(LOG_LEVELS)}")
    setup_logging(args.log_level, args.log_format)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:        # `yuqing alerts | head`: the reader has gone, nothing to report
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - the top level turns failures into exit codes
        from index.store import StoreUnavailable
        if isinstance(exc, StoreUnavailable):
            print(f"storage unavailable: {exc}", file=sys.stderr)
            return EXIT_STORE
        log.exception("command failed")
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())

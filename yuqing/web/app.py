"""The workbench (server-rendered pages) and the open API (/api/v1), one FastAPI application.

`create_app(app)` takes the shell's `yuqing.jobs.App` (store, settings, the warning lock, report
writers) so pages, the API, the CLI and the scheduler change alerts the same way: through
`App.alert_action` → warning.lifecycle.AlertDesk.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import mimetypes
import re
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException

from index.schema import ACTIVE_STATUSES, AlertLevel, AlertStatus, Platform, aware
from warning.labels import LEVEL_COLOURS, STATUS_LABELS, platform_label
from warning.lifecycle import ACTIONS, Directory, LifecycleError, PermissionDenied

from ..accounts import LoginRefused
from .api import api_router
from .security import LOGIN_COOKIE, SESSION_COOKIE, ApiAuth, PageAuth, principal_of_session, secure
from .views import (AlertViews, BadRequest, Principal, SearchForm, alert_row, data_uri, history_rows, overview, search,
                    search_csv, time_range)

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
PAGE_SIZE = 20
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
ACTION_LABELS = {"ack": "签收", "handle": "开始处置", "resolve": "办结", "false-positive": "标记误报", "reopen": "重新打开",
                 "assign": "指派", "comment": "备注", "silence": "静默"}
REPORT_NAME = re.compile(r"^[\w.\-]+\.(html|docx|pdf|csv)$")
MAX_SILENCE_HOURS = 24 * 30


class LoginRequired(Exception):
    def __init__(self, next_url: str):
        self.next_url = next_url


def _templates(tz) -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html", "j2"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["dt"] = lambda v, fmt="%m-%d %H:%M": v.astimezone(tz).strftime(fmt) if v else ""
    env.filters["pct"] = lambda v: "—" if v is None else f"{v:.1%}"
    env.globals.update(level_colours=LEVEL_COLOURS, status_labels=STATUS_LABELS, platform_label=platform_label,
                       action_labels=ACTION_LABELS)
    return env


def create_app(app, *, limiter=None) -> FastAPI:
    """The ASGI application over a shell App (yuqing.jobs.App)."""
    settings = app.settings
    web = settings.app.web
    tz = settings.tz
    accounts = app.accounts
    pages = PageAuth(accounts)
    env = _templates(tz)
    api = FastAPI(title="舆情哨兵 Yuqing Sentinel", version="1",
                  description="The workbench and the open API for other departments' systems (/api/v1). "
                              "API calls need `Authorization: Bearer <token>` (yuqing tokens add).",
                  docs_url=None, redoc_url=None, openapi_url="/api/v1/openapi.json")
    api.state.app = app
    api.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    def directory(extra: Principal | None = None) -> Directory:
        return Directory(settings.agencies, app.people([extra.person] if extra and extra.via_token else []))

    def alerts_view(extra: Principal | None = None) -> AlertViews:
        return AlertViews(app.store, directory(extra), tz)

    # --- responses -----------------------------------------------------------
    def render(request: Request, name: str, who: Principal | None, status_code: int = 200, **context: Any):
        session = pages.session(request) if who else None
        body = env.get_template(name).render(
            request=request, who=who, csrf=session.csrf if session else "", office=settings.app.office_name,
            nav=request.url.path, **shown_notice(request),
            poll_seconds=web.poll_seconds, **context)
        return HTMLResponse(body, status_code=status_code)

    # Messages after a form (已签收, an error) travel in the redirect's query, signed with a key of this
    # process: a link someone else made cannot put its own words on the page.
    notice_key = secrets.token_bytes(32)

    def _sign(msg: str, err: str) -> str:
        return hmac.new(notice_key, f"{msg}\x00{err}".encode(), hashlib.sha256).hexdigest()[:32]

    def notice(path: str, *, msg: str = "", err: str = "") -> RedirectResponse:
        query = {k: v for k, v in (("msg", msg), ("err", err)) if v}
        query["sig"] = _sign(msg, err)
        return RedirectResponse(f"{path}?{urlencode(query)}", status_code=303)

    def shown_notice(request: Request) -> dict[str, str | None]:
        msg, err = request.query_params.get("msg", ""), request.query_params.get("err", "")
        if (msg or err) and hmac.compare_digest(request.query_params.get("sig", ""), _sign(msg, err)):
            return {"flash": msg or None, "error": err or None}
        return {"flash": None, "error": None}

    @api.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if not request.url.path.startswith("/static"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @api.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired):
        return RedirectResponse("/login?" + urlencode({"next": exc.next_url}), status_code=303)

    @api.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        session = pages.session(request)
        who = principal_of_session(session) if session else None
        return render(request, "error.html.j2", who, status_code=exc.status_code, status=exc.status_code,
                      message=str(exc.detail))

    @api.exception_handler(BadRequest)
    async def bad_request(request: Request, exc: BadRequest):
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": str(exc)}, status_code=400)
        session = pages.session(request)
        who = principal_of_session(session) if session else None
        return render(request, "error.html.j2", who, status_code=400, status=400, message=str(exc))

    @api.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors())
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": problems}, status_code=422)
        return render(request, "error.html.j2", None, status_code=422, status=422, message=problems)

    # --- who is asking -------------------------------------------------------
    def user(request: Request) -> Principal:
        session = pages.session(request)
        if session is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise LoginRequired(target if request.method == "GET" else "/")
        return principal_of_session(session)

    async def csrf_form(request: Request) -> None:
        form = await request.form()
        pages.check_csrf(request, pages.session(request), form.get("csrf"))   # type: ignore[arg-type]

    @api.get("/api/docs", response_class=HTMLResponse, include_in_schema=False)
    def api_docs(request: Request):
        """The API reference from its OpenAPI document, rendered here (no CDN, no script)."""
        spec = api.openapi()
        endpoints = []
        for path, methods in spec["paths"].items():
            for method, op in methods.items():
                params = [{"name": p["name"], "in": p["in"], "required": p.get("required", False),
                           "type": _schema_type(p.get("schema", {})), "description": p.get("description", "")}
                          for p in op.get("parameters", [])]
                body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
                body_name = body.get("$ref", "").rsplit("/", 1)[-1]
                fields = spec.get("components", {}).get("schemas", {}).get(body_name, {}).get("properties", {})
                endpoints.append({"method": method.upper(), "path": path, "summary": op.get("summary", ""),
                                  "doc": op.get("description", ""), "params": params,
                                  "body": [{"name": k, "type": _schema_type(v), "description": v.get("description", "")}
                                           for k, v in fields.items()],
                                  "responses": sorted(op.get("responses", {}))})
        return render(request, "api_docs.html.j2", None, spec=spec, endpoints=endpoints)

    # --- sign-in -------------------------------------------------------------
    @api.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_page(request: Request, next: str = "/"):
        token = pages.login_token()
        response = render(request, "login.html.j2", None, login_csrf=token, next=_local(next))
        response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=secure(request, web.secure_cookies),
                            max_age=3600)
        return response

    @api.post("/login", include_in_schema=False)
    def login(request: Request, name: str = Form(...), password: str = Form(...), csrf: str = Form(""),
              next: str = Form("/")):
        pages.check_csrf(request, None, csrf)
        try:
            account = accounts.authenticate(name.strip(), password, max_failures=web.max_failures,
                                            lockout_s=web.lockout_minutes * 60)
        except LoginRefused as exc:
            log.warning("login refused", extra={"user": name[:40], "reason": str(exc)})
            token = pages.login_token()
            response = render(request, "login.html.j2", None, status_code=401, login_csrf=token, next=_local(next),
                              login_error=("账号因多次密码错误已锁定，请稍后再试" if exc.locked_for else
                                           "账号已停用" if "disabled" in str(exc) else "用户名或密码错误"))
            response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict",
                                secure=secure(request, web.secure_cookies), max_age=3600)
            return response
        session = accounts.start_session(account, web.session_hours * 3600)
        log.info("login", extra={"user": account.name, "role": account.role})
        response = RedirectResponse(_local(next), status_code=303)
        response.set_cookie(SESSION_COOKIE, session.id, httponly=True, samesite="lax",
                            secure=secure(request, web.secure_cookies), max_age=int(web.session_hours * 3600))
        response.delete_cookie(LOGIN_COOKIE)
        return response

    @api.post("/logout", include_in_schema=False, dependencies=[Depends(csrf_form)])
    def logout(request: Request):
        sid = request.cookies.get(SESSION_COOKIE)
        if sid:
            accounts.end_session(sid)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    # --- pages ---------------------------------------------------------------
    @api.get("/", response_class=HTMLResponse, include_in_schema=False)
    def overview_page(request: Request, who: Principal = Depends(user), range: str | None = None,
                      start: str | None = None, end: str | None = None):
        now = settings.now()
        s, e, name = time_range(now, tz, range, start, end)
        data = overview(app.store, who, s, e, tz)
        rows = [alert_row(a, who, now, tz) for a in alerts_view().visible(who, statuses=ACTIVE_STATUSES, now=now)[:8]]
        return render(request, "overview.html.j2", who, data=data, range_name=name, ranges=["24h", "3d", "7d", "30d"],
                      start=start or "", end=end or "", alerts=rows)

    @api.get("/alerts", response_class=HTMLResponse, include_in_schema=False)
    def inbox(request: Request, who: Principal = Depends(user), level: list[str] = Query(default=[]),
              status: list[str] = Query(default=[]), agency: str = "", overdue: bool = False, page: int = 1):
        now = settings.now()
        _check_filters(level, status, agency, settings)
        statuses = tuple(status) or (() if request.query_params.get("all") else ACTIVE_STATUSES)
        found = alerts_view().visible(who, statuses=statuses, levels=level, agency=agency or None,
                                      overdue=overdue, now=now)
        page = max(1, page)
        rows = [alert_row(a, who, now, tz) for a in found[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]]
        latest = max((a.first_seen for a in found), default=now)
        return render(request, "alerts.html.j2", who, rows=rows, total=len(found), page=page,
                      pages=max(1, -(-len(found) // PAGE_SIZE)), levels=[lv.value for lv in AlertLevel],
                      statuses=[s.value for s in AlertStatus], chosen_levels=level, chosen_statuses=list(statuses),
                      agency=agency, overdue=overdue, agencies=settings.agencies.agencies,
                      latest=latest.isoformat(), query=request.url.query)

    @api.get("/alerts/poll", include_in_schema=False)
    def poll(request: Request, after: str, who: Principal = Depends(user)):
        """Alerts first seen after `after` that this user may see (the inbox asks every poll_seconds)."""
        try:
            since = aware(datetime.fromisoformat(after), tz)
        except ValueError:
            raise BadRequest("after: an ISO time") from None
        now = settings.now()
        fresh = [a for a in alerts_view().visible(who, statuses=ACTIVE_STATUSES, now=now) if a.first_seen > since]
        rows = []
        for a in fresh[:50]:
            row = alert_row(a, who, now, tz)
            rows.append({k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()})
        latest = max((a.first_seen for a in fresh), default=since)
        return JSONResponse({"alerts": rows, "latest": latest.isoformat()})

    @api.get("/alerts/{alert_id}", response_class=HTMLResponse, include_in_schema=False)
    def alert_page(request: Request, alert_id: str, who: Principal = Depends(user)):
        view = alerts_view()
        try:
            alert = view.get(who, alert_id)
        except PermissionError as exc:
            raise HTTPException(403, str(exc)) from None
        if alert is None:
            raise HTTPException(404, f"no alert {alert_id}")
        now = settings.now()
        allowed = [name for name, spec in ACTIONS.items() if alert.status in spec.from_statuses] \
            if view.can_act(who, alert) else []
        members = sorted({u for a in directory().owners(alert) for u in _members(settings, app, a)})
        history = history_rows(alert, who, tz)
        examples = [{"text": who.mask(e.text), "url": who.link(e.url), "platform": e.platform_label or platform_label(e.platform),
                     "published_at": e.published_at, "author": who.mask(e.author) if e.author else ""}
                    for e in alert.examples[:5]]
        event_id = _event_of(app, alert)
        return render(request, "alert.html.j2", who, a=alert_row(alert, who, now, tz), allowed=allowed,
                      actions=ACTIONS, members=members, history=history, examples=examples, event_id=event_id,
                      basis=who.mask(alert.basis.text) if alert.basis else "")

    @api.post("/alerts/{alert_id}/act", include_in_schema=False, dependencies=[Depends(csrf_form)])
    def act(request: Request, alert_id: str, action: str = Form(...), note: str = Form(""), assignee: str = Form(""),
            hours: float = Form(0), who: Principal = Depends(user)):
        options: dict[str, Any] = {"note": note or None}
        if action == "assign":
            options["assignee"] = assignee.strip() or None
        back = f"/alerts/{alert_id}"
        if action == "silence":
            if not 0 <= hours <= MAX_SILENCE_HOURS:
                return notice(back, err=f"暂停时长须在 0–{MAX_SILENCE_HOURS} 小时之间")
            options["until"] = settings.now() + timedelta(hours=hours) if hours > 0 else None
        try:
            alerts_view().get(who, alert_id)
            app.alert_action(alert_id, action, who.name, **options)
        except PermissionError as exc:
            raise HTTPException(403, str(exc)) from None
        except PermissionDenied as exc:
            raise HTTPException(403, str(exc)) from None
        except LifecycleError as exc:
            return notice(back, err=str(exc))
        return notice(back, msg=f"已{ACTION_LABELS.get(action, action)}")

    def event_and_report(event_id: str, who: Principal):
        """The event and its 专报 made for this reader (their masking); 404 when either is missing."""
        from warning.reports.event_report import EventReportBuilder, ReportError
        events = app.store.get_events([event_id])
        if not events:
            raise HTTPException(404, f"no event {event_id}")
        try:
            return events[0], EventReportBuilder(app.store, settings.agencies, settings.topics,
                                                 office_name=settings.app.office_name, tz=tz,
                                                 masker=who.mask).build(event_id, settings.now())
        except ReportError as exc:
            raise HTTPException(404, str(exc)) from None

    @api.get("/events/{event_id}", response_class=HTMLResponse, include_in_schema=False)
    def event_page(request: Request, event_id: str, who: Principal = Depends(user)):
        event, report = event_and_report(event_id, who)
        return render(request, "event.html.j2", who, event=event, r=report, volume_png=data_uri(report.volume_png),
                      polarity_png=data_uri(report.polarity_png))

    @api.get("/events/{event_id}/report.{fmt}", include_in_schema=False)
    def event_report(event_id: str, fmt: str, who: Principal = Depends(user)):
        """The event's 专报, made for this reader (their masking) and sent, not written to disk."""
        from warning.reports.event_report import render_docx, render_html
        if fmt not in ("html", "docx"):
            raise HTTPException(404, "the 专报 comes as html or docx")
        _, report = event_and_report(event_id, who)
        safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in event_id)
        name = f"zhuanbao-{safe}.{fmt}"
        if fmt == "html":
            body, media = render_html(report).encode("utf-8"), "text/html; charset=utf-8"
        else:
            body, media = render_docx(report), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @api.get("/search", response_class=HTMLResponse, include_in_schema=False)
    def search_page(request: Request, who: Principal = Depends(user), form: SearchForm = Depends(), page: int = 1):
        page = max(1, page)
        total, hits, error = 0, [], None
        if form.q or any(v for k, v in form.params().items() if k not in ("q", "sort")):
            try:
                total, hits = search(app.store, form.query(tz), who, size=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE,
                                     sort=form.sort, tz=tz)
            except BadRequest as exc:
                error = str(exc)
        return render(request, "search.html.j2", who, form=form, hits=hits, total=total, page=page, search_error=error,
                      pages=max(1, -(-total // PAGE_SIZE)), params=urlencode(form.params()),
                      topics=[t.label for t in settings.topics.topics], schemes=[s.name for s in settings.topics.schemes],
                      platforms=[p.value for p in Platform])

    @api.get("/search.csv", include_in_schema=False)
    def search_export(who: Principal = Depends(user), form: SearchForm = Depends()):
        query = form.query(tz)
        chunks = search_csv(app.store, query, who, form.sort, tz)
        first = next(chunks)    # a syntax error surfaces here, before the response starts
        body = [first, *chunks]
        return StreamingResponse(iter(body), media_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition": 'attachment; filename="search.csv"'})

    def may_read(who: Principal, folder: str, name: str, view: AlertViews | None = None) -> bool:
        """Admins and analysts read every report. An agency user reads the 日报 (the office sends it to
        its member units), and the 专报 of events and of alerts routed or reported to its agency."""
        if who.role in ("admin", "analyst") or folder == "briefings":
            return True
        if not name.startswith("zhuanbao-"):
            return False
        subject = name.removeprefix("zhuanbao-").rsplit(".", 1)[0]
        try:
            if (view or alerts_view()).get(who, subject) is not None:
                return True
        except PermissionError:
            return False
        return bool(app.store.get_events([subject]))

    @api.get("/reports", response_class=HTMLResponse, include_in_schema=False)
    def reports_page(request: Request, who: Principal = Depends(user)):
        groups = []
        view = alerts_view()        # one directory for the whole listing, not one per file
        for folder, label in (("briefings", "舆情日报"), ("reports", "舆情专报")):
            d = app.output_dir / folder
            files = sorted((p for p in d.glob("*") if p.is_file() and REPORT_NAME.match(p.name)
                            and may_read(who, folder, p.name, view)),
                           key=lambda p: p.name, reverse=True) if d.is_dir() else []
            groups.append({"folder": folder, "label": label,
                           "files": [{"name": p.name, "size": p.stat().st_size,
                                      "at": datetime.fromtimestamp(p.stat().st_mtime, tz)} for p in files[:200]]})
        return render(request, "reports.html.j2", who, groups=groups, today=settings.now().astimezone(tz).date().isoformat(),
                      daily=who.role in ("admin", "analyst"),
                      formats=settings.app.daily_report.formats)

    @api.get("/reports/{folder}/{name}", include_in_schema=False)
    def report_file(folder: str, name: str, who: Principal = Depends(user)):
        if folder not in ("briefings", "reports") or not REPORT_NAME.match(name):
            raise HTTPException(404, "no such report")
        path = app.output_dir / folder / name
        if not path.is_file() or not may_read(who, folder, name):
            raise HTTPException(404, "no such report")
        return _download(path)

    @api.post("/reports/daily", include_in_schema=False, dependencies=[Depends(csrf_form)])
    def make_daily(date: str = Form(...), formats: list[str] = Form(default=[]), who: Principal = Depends(user)):
        if who.role not in ("admin", "analyst"):
            raise HTTPException(403, "the 日报 is written by the office's admins and analysts")
        try:
            day = datetime.fromisoformat(date).date()
        except ValueError:
            raise BadRequest("date: YYYY-MM-DD") from None
        try:
            paths = app.write_daily_report(day, formats or None)
        except (ValueError, RuntimeError, ImportError) as exc:
            return notice("/reports", err=str(exc))
        return notice("/reports", msg="已生成 " + "、".join(p.name for p in paths))

    @api.get("/agencies", response_class=HTMLResponse, include_in_schema=False)
    def agencies_page(request: Request, who: Principal = Depends(user), period: str | None = None):
        from warning.reports.response import collect, period_bounds
        now = settings.now()
        period = period or now.astimezone(tz).strftime("%Y-%m")
        try:
            start, end = period_bounds(period, tz)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        rows = collect(app.store, settings.agencies, start, end, now)
        if who.role == "agency":
            mine = {who.agency, *(a.id for a in settings.agencies.agencies if who.agency in settings.agencies.ancestors(a.id))}
            rows = [r for r in rows if r.agency in mine]
        return render(request, "agencies.html.j2", who, rows=rows, period=period)

    api.include_router(api_router(app, ApiAuth(accounts, limiter), alerts_view, tz))
    return api


# --- helpers -------------------------------------------------------------------
def _local(target: str | None) -> str:
    """Only same-site paths after login (never //host or a scheme)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _schema_type(schema: dict) -> str:
    if "enum" in schema:
        return " | ".join(map(str, schema["enum"]))
    if "anyOf" in schema:
        return " | ".join(_schema_type(s) for s in schema["anyOf"])
    if schema.get("type") == "array":
        return f"[{_schema_type(schema.get('items', {}))}]"
    return schema.get("type") or schema.get("$ref", "").rsplit("/", 1)[-1] or "any"


def _download(path: Path) -> FileResponse:
    media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media, filename=path.name)


def _check_filters(levels: list[str], statuses: list[str], agency: str, settings) -> None:
    bad = [lv for lv in levels if lv not in {x.value for x in AlertLevel}]
    if bad:
        raise BadRequest(f"level {', '.join(bad)}: use 蓝, 黄, 橙 or 红")
    bad = [s for s in statuses if s not in {x.value for x in AlertStatus}]
    if bad:
        raise BadRequest(f"status {', '.join(bad)}: use {', '.join(x.value for x in AlertStatus)}")
    if agency and settings.agencies.agency(agency) is None:
        raise BadRequest(f"agency {agency!r}: not in agencies.yaml")


def _members(settings, app, agency_id: str) -> list[str]:
    found = list(getattr(settings.agencies.agency(agency_id), "members", []) or [])
    found += [p.name for p in app.people() if p.role == "agency" and p.agency == agency_id]
    return found


def _event_of(app, alert) -> str | None:
    """The event behind an alert: the most common event among its example posts."""
    from collections import Counter
    posts = app.store.get_posts(alert.post_ids[:10])
    counts = Counter(p.event_id for p in posts if p.event_id)
    return counts.most_common(1)[0][0] if counts else None

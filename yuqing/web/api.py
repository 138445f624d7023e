"""The open API for other departments' systems: /api/v1, JSON, documented at /api/docs (OpenAPI).

Bearer tokens per agency (`yuqing tokens add NAME --agency ID --scopes read,act`), revocable; the
same visibility and lifecycle rules as the pages; cursor pagination (the cursor pins the moment the
first page was read, so later pages do not shift); a rate limit per token.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from index.schema import ACTIVE_STATUSES, AlertStatus
from warning.lifecycle import ACTIONS, LifecycleError, PermissionDenied

from .views import (Principal, SearchForm, alert_json, decode_cursor, encode_cursor, event_json,
                    parse_when, search)


MAX_WINDOW = 10_000


class Page(BaseModel):
    items: list[dict[str, Any]]
    total: int | None = Field(default=None, description="matches in all (posts, alerts)")
    next_cursor: str | None = Field(default=None, description="pass as ?cursor= for the next page; null at the end")


class ActionRequest(BaseModel):
    action: Literal["ack", "handle", "resolve", "false-positive", "reopen", "assign", "comment", "silence"]
    note: str | None = Field(default=None, max_length=4000,
                             description="required for resolve, false-positive, reopen, comment and silence")
    assignee: str | None = Field(default=None, description="for assign: the user to assign to")
    until: str | None = Field(default=None, description="for silence: ISO time to stay silent until")


def api_router(app, auth, alerts_view, tz) -> APIRouter:
    settings = app.settings
    router = APIRouter(prefix="/api/v1", tags=["v1"])

    def page_of(cursor: str | None) -> tuple[int, Any]:
        if cursor:
            return decode_cursor(cursor)
        return 0, settings.now()

    @router.get("/posts", response_model=Page, summary="Search posts")
    def posts(who: Principal = Depends(auth),
              q: str = Query("", description='query syntax: words, AND OR NOT, "phrases", (groups), field:value'),
              start: str | None = None, end: str | None = None, platform: str | None = None,
              polarity: str | None = None, topic: str | None = None, region: str | None = None,
              scheme: str | None = None, sort: Literal["newest", "oldest", "relevance", "engagement"] = "newest",
              limit: int = Query(50, ge=1, le=200), cursor: str | None = None):
        offset, pinned = page_of(cursor)
        if offset + limit > MAX_WINDOW:
            raise HTTPException(400, f"pages reach the first {MAX_WINDOW} posts; narrow the query with start/end")
        form = SearchForm(q=q, start=start, end=end, platform=platform, polarity=polarity, topic=topic,
                          region=region, scheme=scheme, sort=sort)
        query = form.query(tz)
        if query.end is None or query.end > pinned:
            query = dataclasses.replace(query, end=pinned)
        total, hits = search(app.store, query, who, size=limit, offset=offset, sort=sort, tz=tz)
        # pages reach the first MAX_WINDOW hits (Elasticsearch's max_result_window); narrow start/end for more
        more = offset + len(hits) < total and len(hits) == limit and offset + 2 * limit <= MAX_WINDOW
        return Page(items=hits, total=total, next_cursor=encode_cursor(offset + limit, pinned) if more else None)

    @router.get("/events", response_model=Page, summary="Events (事件), most recently active first")
    def events(who: Principal = Depends(auth), since: str | None = None, topic: str | None = None,
               min_posts: int = Query(1, ge=1), limit: int = Query(50, ge=1, le=200), cursor: str | None = None):
        offset, _ = page_of(cursor)
        found = app.store.list_events(active_since=parse_when(since, tz), topic=topic, min_posts=min_posts,
                                      limit=offset + limit + 1)
        items = [event_json(e, who, tz) for e in found[offset: offset + limit]]
        more = len(found) > offset + limit
        return Page(items=items, next_cursor=encode_cursor(offset + limit, settings.now()) if more else None)

    @router.get("/events/{event_id}", summary="One event")
    def event(event_id: str, who: Principal = Depends(auth)) -> dict[str, Any]:
        found = app.store.get_events([event_id])
        if not found:
            raise HTTPException(404, f"no event {event_id}")
        return event_json(found[0], who, tz)

    @router.get("/alerts", response_model=Page, summary="Alerts this token may see, newest first")
    def alerts(who: Principal = Depends(auth), status: list[AlertStatus] = Query(default=[]),
               level: list[Literal["蓝", "黄", "橙", "红"]] = Query(default=[]), agency: str | None = None,
               overdue: bool = False, active: bool = Query(False, description="only new / acknowledged / handling"),
               limit: int = Query(50, ge=1, le=200), cursor: str | None = None):
        offset, _ = page_of(cursor)
        now = settings.now()
        statuses = tuple(s.value for s in status) or (ACTIVE_STATUSES if active else ())
        found = alerts_view(who).visible(who, statuses=statuses, levels=level, agency=agency, overdue=overdue, now=now)
        items = [alert_json(a, who, now) for a in found[offset: offset + limit]]
        more = len(found) > offset + limit
        return Page(items=items, total=len(found), next_cursor=encode_cursor(offset + limit, now) if more else None)

    @router.get("/alerts/{alert_id}", summary="One alert with its handling record")
    def alert(alert_id: str, who: Principal = Depends(auth)) -> dict[str, Any]:
        try:
            found = alerts_view(who).get(who, alert_id)
        except PermissionError as exc:
            raise HTTPException(403, str(exc)) from None
        if found is None:
            raise HTTPException(404, f"no alert {alert_id}")
        return alert_json(found, who, settings.now())

    @router.post("/alerts/{alert_id}/actions", summary="A lifecycle action (needs the act scope)")
    def alert_action(alert_id: str, body: ActionRequest = Body(...), who: Principal = Depends(auth)) -> dict[str, Any]:
        if "act" not in who.scopes:
            raise HTTPException(403, "this token lacks the act scope")
        view = alerts_view(who)
        try:
            if view.get(who, alert_id) is None:
                raise HTTPException(404, f"no alert {alert_id}")
        except PermissionError as exc:
            raise HTTPException(403, str(exc)) from None
        options: dict[str, Any] = {"note": body.note}
        if body.action == "assign":
            options["assignee"] = body.assignee
        if body.action == "silence":
            options["until"] = parse_when(body.until, tz) if body.until else None
        try:
            changed = app.alert_action(alert_id, body.action, who.name, extra_people=[who.person], **options)
        except PermissionDenied as exc:
            raise HTTPException(403, str(exc)) from None
        except LifecycleError as exc:
            raise HTTPException(409, str(exc)) from None
        return alert_json(changed, who, settings.now())

    assert set(ActionRequest.model_fields["action"].annotation.__args__) == set(ACTIONS)  # type: ignore[union-attr]
    return router

"""The open API (/api/v1) on a real SQLite store: tokens, scopes, visibility, cursors, rate limits."""
from __future__ import annotations

from fastapi.testclient import TestClient

from tests.support.workbench import PHONE
from yuqing.web.app import create_app


def client_with(app, name: str, **token_options) -> tuple[TestClient, str]:
    _, secret = app.accounts.add_token(name, **token_options)
    return TestClient(create_app(app), headers={"Authorization": f"Bearer {secret}"}), secret


def test_no_token_a_wrong_token_and_a_revoked_token_are_refused(office):
    app, _ = office
    client, secret = client_with(app, "gov-hub", agency="eco_env")
    bare = TestClient(create_app(app))
    assert bare.get("/api/v1/alerts").status_code == 401
    assert bare.get("/api/v1/alerts", headers={"Authorization": "Bearer yq_dead_beef"}).status_code == 401
    assert client.get("/api/v1/alerts").status_code == 200
    app.accounts.revoke_token("gov-hub")
    r = client.get("/api/v1/alerts")
    assert r.status_code == 401 and "revoked" in r.json()["error"]


def test_an_agency_token_sees_its_alerts_only_and_acts_only_with_the_act_scope(office):
    app, info = office
    reader, _ = client_with(app, "eco-read", agency="eco_env")
    ids = [a["id"] for a in reader.get("/api/v1/alerts").json()["items"]]
    assert ids == [info.eco_alert]
    assert reader.get(f"/api/v1/alerts/{info.housing_alert}").status_code == 403
    r = reader.post(f"/api/v1/alerts/{info.eco_alert}/actions", json={"action": "ack"})
    assert r.status_code == 403 and "act scope" in r.json()["error"]
    actor, _ = client_with(app, "eco-act", agency="eco_env", scopes=("read", "act"))
    r = actor.post(f"/api/v1/alerts/{info.eco_alert}/actions", json={"action": "ack"})
    assert r.status_code == 200 and r.json()["status"] == "acknowledged"
    assert app.store.get_alert(info.eco_alert).history[-1]["by"] == "api:eco-act"
    r = actor.post(f"/api/v1/alerts/{info.eco_alert}/actions", json={"action": "resolve"})
    assert r.status_code == 409 and "note" in r.json()["error"]
    r = actor.post(f"/api/v1/alerts/{info.housing_alert}/actions", json={"action": "ack"})
    assert r.status_code == 403
    assert app.store.get_alert(info.housing_alert).status == "new"


def test_post_search_pages_with_cursors_and_masks(office):
    app, _ = office
    client, _ = client_with(app, "analytics")
    seen, cursor, pages = [], None, 0
    while True:
        r = client.get("/api/v1/posts", params={"q": "十里河 OR 改造", "limit": 2, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        body = r.json()
        seen += [p["id"] for p in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert pages == 4 and len(seen) == len(set(seen)) == body["total"] == 7
    text = client.get("/api/v1/posts", params={"q": "身份证"}).text
    assert PHONE not in text and "139" in text
    r = client.get("/api/v1/posts", params={"q": "(十里河"})
    assert r.status_code == 400 and "(" in r.json()["error"]
    assert client.get("/api/v1/posts", params={"cursor": "garbage!"}).status_code == 400


def test_events_and_openapi(office):
    app, info = office
    client, _ = client_with(app, "events")
    items = client.get("/api/v1/events").json()["items"]
    assert [e["id"] for e in items] == [info.event_id]
    assert client.get(f"/api/v1/events/{info.event_id}").json()["post_count"] == 6
    spec = TestClient(create_app(app)).get("/api/v1/openapi.json").json()
    assert {"/api/v1/posts", "/api/v1/alerts", "/api/v1/alerts/{alert_id}/actions", "/api/v1/events"} <= set(spec["paths"])
    assert spec["components"]["securitySchemes"]["token"]["scheme"] == "bearer"
    docs = TestClient(create_app(app)).get("/api/docs").text      # rendered here: no CDN, no script
    assert "POST /api/v1/alerts/{alert_id}/actions" in docs and "<script src=\"http" not in docs


def test_the_rate_limit_answers_429_with_retry_after(office):
    app, _ = office
    client, _ = client_with(app, "tight", rate_per_minute=3)
    codes = [client.get("/api/v1/events").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = client.get("/api/v1/events")
    assert int(r.headers["retry-after"]) >= 1


def test_alert_history_shows_lifecycle_fields_only(office):
    from warning.alerts import record
    app, info = office
    alert = app.store.get_alert(info.eco_alert)
    record(alert, "notify_failed", info.now, notifier="mail", level=alert.level, change="new",
           error="smtp.gov.local:25 failed: {'zhangsan@hb.gov.cn': (550, 'no such user')}")
    record(alert, "commented", info.now, by="hjj", note=f"已联系举报人 {PHONE}")
    app.store.upsert_alert(alert)
    reader, _ = client_with(app, "eco-read", agency="eco_env")
    body = reader.get(f"/api/v1/alerts/{info.eco_alert}").text
    assert "zhangsan@hb.gov.cn" not in body and "smtp.gov.local" not in body and PHONE not in body
    history = reader.get(f"/api/v1/alerts/{info.eco_alert}").json()["history"]
    assert {"event": "notify_failed", "notifier": "mail"}.items() <= history[-2].items()
    assert history[-1]["note"].startswith("已联系举报人 139")

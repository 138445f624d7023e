"""The workbench pages on a real SQLite store: sign-in, roles, the alert lifecycle, escaping, masking."""
from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.support.workbench import ID_CARD, PHONE
from tests.web.conftest import csrf_of


def test_pages_need_sign_in_and_a_wrong_password_is_refused(login):
    client = TestClient(login.web)
    r = client.get("/alerts", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=%2Falerts")
    token = csrf_of(client.get("/login").text)
    r = client.post("/login", data={"name": "hjj_web", "password": "wrong-password", "csrf": token})
    assert r.status_code == 401 and "用户名或密码错误" in r.text
    assert client.get("/alerts", follow_redirects=False).status_code == 303


def test_repeated_failures_lock_the_account_even_for_the_right_password(login):
    client = TestClient(login.web)
    for _ in range(3):   # web.max_failures: 3 in the test office
        token = csrf_of(client.get("/login").text)
        client.post("/login", data={"name": "zjj_web", "password": "nope-nope-nope", "csrf": token})
    token = csrf_of(client.get("/login").text)
    r = client.post("/login", data={"name": "zjj_web", "password": "housing-pass-1", "csrf": token})
    assert r.status_code == 401 and "锁定" in r.text


def test_login_form_without_its_token_is_refused(login):
    client = TestClient(login.web)
    client.get("/login")
    r = client.post("/login", data={"name": "hjj_web", "password": "eco-password-1", "csrf": "forged"})
    assert r.status_code == 403


def test_the_session_cookie_is_httponly_and_samesite(login):
    client = TestClient(login.web)
    token = csrf_of(client.get("/login").text)
    r = client.post("/login", data={"name": "hjj_web", "password": "eco-password-1", "csrf": token},
                    follow_redirects=False)
    cookie = r.headers["set-cookie"]
    assert "yq_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")


def test_an_agency_sees_only_its_alerts_and_another_agencys_url_is_refused(login, office):
    _, info = office
    client = login("hjj_web")
    inbox = client.get("/alerts").text
    assert info.eco_alert in inbox and info.housing_alert not in inbox
    r = client.get(f"/alerts/{info.housing_alert}")
    assert r.status_code == 403
    csrf = csrf_of(client.get(f"/alerts/{info.eco_alert}").text)
    r = client.post(f"/alerts/{info.housing_alert}/act", data={"csrf": csrf, "action": "ack"})
    assert r.status_code == 403


def test_acknowledge_and_resolve_through_the_page_write_the_audit_trail(login, office):
    app, info = office
    client = login("hjj_web")
    page = client.get(f"/alerts/{info.eco_alert}").text
    r = client.post(f"/alerts/{info.eco_alert}/act", data={"csrf": csrf_of(page), "action": "ack"})
    assert r.status_code == 200 and "已签收" in r.text
    r = client.post(f"/alerts/{info.eco_alert}/act", data={"csrf": csrf_of(r.text), "action": "resolve", "note": ""})
    assert "needs a note" in r.text                       # refused with the lifecycle's reason
    assert app.store.get_alert(info.eco_alert).status == "acknowledged"
    r = client.post(f"/alerts/{info.eco_alert}/act",
                    data={"csrf": csrf_of(r.text), "action": "resolve", "note": "企业已停产整改"})
    alert = app.store.get_alert(info.eco_alert)
    assert alert.status == "resolved"
    assert [(h["event"], h["by"]) for h in alert.history if h.get("by") == "hjj_web"] == [
        ("acknowledged", "hjj_web"), ("resolved", "hjj_web")]
    assert "企业已停产整改" in r.text


def test_a_form_post_without_the_session_csrf_token_changes_nothing(login, office):
    app, info = office
    client = login("hjj_web")
    r = client.post(f"/alerts/{info.eco_alert}/act", data={"csrf": "forged", "action": "ack"})
    assert r.status_code == 403
    r = client.post(f"/alerts/{info.eco_alert}/act", data={"csrf": csrf_of(client.get("/").text), "action": "ack"},
                    headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    assert app.store.get_alert(info.eco_alert).status == "new"


def test_an_analyst_sees_every_alert_and_acts_on_none(login, office):
    app, info = office
    client = login("ana")
    inbox = client.get("/alerts").text
    assert info.eco_alert in inbox and info.housing_alert in inbox
    page = client.get(f"/alerts/{info.housing_alert}").text
    assert 'id="act-ack"' not in page
    r = client.post(f"/alerts/{info.housing_alert}/act", data={"csrf": csrf_of(page), "action": "ack"})
    assert r.status_code == 403
    assert app.store.get_alert(info.housing_alert).status == "new"


def test_hostile_post_text_is_shown_as_text_everywhere(login, office):
    _, info = office
    client = login("boss")
    pages = [client.get("/alerts").text, client.get(f"/alerts/{info.eco_alert}").text,
             client.get("/search", params={"q": "十里河"}).text, client.get("/?range=24h").text,
             client.get(f"/events/{info.event_id}").text]
    for html in pages:
        assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in pages[0] and "&lt;img src=x" in pages[2]


def test_personal_data_is_masked_for_all_but_admin(login):
    for name, masked in (("hjj_web", True), ("ana", True), ("boss", False)):
        client = login(name)
        html = client.get("/search", params={"q": "身份证"}).text
        csv_text = client.get("/search.csv", params={"q": "身份证"}).text
        for text in (html, csv_text):
            assert (PHONE in text) is (not masked), (name, text[:400])
            assert (ID_CARD in text) is (not masked), name


def test_search_syntax_filters_highlights_and_errors(login):
    client = login("hjj_web")
    html = client.get("/search", params={"q": "死鱼 NOT 官方"}).text
    total = int(re.search(r'id="hit-total">(\d+)<', html).group(1))
    with_official = int(re.search(r'id="hit-total">(\d+)<', client.get("/search", params={"q": "死鱼"}).text).group(1))
    assert total == 3 and with_official == 4
    assert "<em>死鱼</em>" in html
    html = client.get("/search", params={"q": "十里河 OR"}).text
    assert 'id="search-error"' in html and "OR" in html
    html = client.get("/search", params={"q": "改造", "region": "360403"}).text
    assert re.search(r'id="hit-total">1<', html)
    csv_text = client.get("/search.csv", params={"q": "死鱼", "platform": "news"}).text
    assert csv_text.startswith("\ufeffid,") and csv_text.count("\n") == 2


def test_overview_event_reports_and_agencies_render(login, office):
    app, info = office
    client = login("hjj_web")
    html = client.get("/?range=24h").text
    assert re.search(r'id="total">7<', html) and "<svg" in html and "十里河" in html
    html = client.get(f"/events/{info.event_id}").text
    assert "首发" in html and "data:image/png;base64," in html
    r = client.get(f"/events/{info.event_id}/report.docx")
    assert r.status_code == 200 and r.content[:2] == b"PK"
    assert not (app.output_dir / "reports").exists()            # a GET writes nothing
    assert client.get("/reports/reports/..%2F..%2Fapp.yaml").status_code == 404
    assert "部门响应评价" in client.get("/agencies").text


def test_agency_users_read_the_daily_report_and_only_their_alerts_special_reports(login, office):
    app, info = office
    for subject in (info.eco_alert, info.housing_alert, info.event_id):
        app.write_event_report(subject, ["html"])
    app.write_daily_report(formats=["html"], end=info.now)
    eco = login("hjj_web")
    page = eco.get("/reports").text
    assert f"zhuanbao-{info.eco_alert}.html" in page and f"zhuanbao-{info.event_id}.html" in page
    assert f"zhuanbao-{info.housing_alert}" not in page
    assert re.search(r"briefing-\d{8}-\d{4}\.html", page)
    assert 'id="make-daily"' not in page                           # agencies read the 日报, do not write it
    assert eco.get(f"/reports/reports/zhuanbao-{info.eco_alert}.html").status_code == 200
    refused = eco.get(f"/reports/reports/zhuanbao-{info.housing_alert}.html")
    assert refused.status_code == 404 and "老旧小区" not in refused.text
    assert eco.post("/reports/daily", data={"csrf": csrf_of(page), "date": "2026-11-19"},
                    headers={"Origin": "http://testserver"}).status_code == 403
    analyst = login("ana")
    assert f"zhuanbao-{info.housing_alert}.html" in analyst.get("/reports").text
    assert 'id="make-daily"' in analyst.get("/reports").text


def test_the_inbox_poll_returns_only_newer_visible_alerts(login, office):
    _, info = office
    client = login("hjj_web")
    data = client.get("/alerts/poll", params={"after": "2000-01-01T00:00:00+08:00"}).json()
    assert [a["id"] for a in data["alerts"]] == [info.eco_alert]
    assert client.get("/alerts/poll", params={"after": data["latest"]}).json()["alerts"] == []


def test_bad_poll_times_and_silence_spans_get_answers_not_errors(login, office):
    _, info = office
    client = login("hjj_web")
    assert client.get("/alerts/poll", params={"after": "2000-01-01T00:00:00"}).status_code == 200
    assert client.get("/alerts/poll", params={"after": "yesterday"}).status_code == 400
    page = client.get(f"/alerts/{info.eco_alert}").text
    r = client.post(f"/alerts/{info.eco_alert}/act", data={"csrf": csrf_of(page), "action": "silence", "hours": "1e20"})
    assert r.status_code == 200 and "暂停时长须在" in r.text


def test_a_search_highlight_of_a_post_with_personal_data_is_not_shown(login, office):
    app, info = office
    client = login("hjj_web")
    html = client.get("/search", params={"q": "举报"}).text
    assert "<em>举报</em>" not in html and PHONE not in html and PHONE[:7] not in html
    assert "139****5678" in html
    # a number the snippet cuts at its edge is too short for the masker: the post's highlight goes
    from index.schema import Post
    [post] = app.store.get_posts(["weibo:0"])
    app.store.upsert_posts([Post.model_validate({**post.model_dump(), "id": "weibo:77",
                                                 "title": "",
                                                 # the snippet of this text ends at "139 8765…"
                                                 "content": "独角兽" + "的" * 28 + " 电话 139 8765 4321 " + "再见" * 20})])
    html = client.get("/search", params={"q": "独角兽"}).text
    assert 'id="hit-total">1<' in html and "8765" not in html


def test_logout_ends_the_session(login):
    client = login("hjj_web")
    r = client.post("/logout", data={"csrf": csrf_of(client.get("/").text)}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 303


def test_a_message_in_a_link_someone_else_made_is_not_shown(login, office):
    _, info = office
    client = login("hjj_web")
    forged = client.get("/alerts", params={"msg": "您的账号存在异常，请立即致电 400-000"}).text
    assert "您的账号存在异常" not in forged and 'id="flash"' not in forged
    page = client.get(f"/alerts/{info.eco_alert}").text
    r = client.post(f"/alerts/{info.eco_alert}/act", data={"csrf": csrf_of(page), "action": "ack"})
    assert r.status_code == 200 and '<p class="flash" id="flash">已签收</p>' in r.text   # our own message is shown

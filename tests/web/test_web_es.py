"""The workbench and the API on the Elasticsearch store (the real test node): the same office, the same rules."""
from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from tests.support.workbench import PASSWORDS, PHONE, REPO, populate, write_office
from tests.web.conftest import csrf_of
from yuqing.config import load_settings
from yuqing.jobs import App
from yuqing.web.app import create_app

pytestmark = pytest.mark.integration


@pytest.fixture
def es_office(tmp_path, monkeypatch):
    from tests.support.es_node import url_for_tests
    url = url_for_tests()
    monkeypatch.chdir(REPO)
    prefix = f"yqw-{secrets.token_hex(4)}"
    config = write_office(tmp_path, {"backend": "elasticsearch", "elasticsearch": {
        "hosts": [url], "index_prefix": prefix, "number_of_replicas": 0, "spool_dir": str(tmp_path / "spool")}})
    app = App(load_settings(config))
    info = populate(app, datetime.now(app.settings.tz).replace(microsecond=0) - timedelta(minutes=5))
    yield app, info
    app.store.drop()
    app.close()


def sign_in(web, name: str) -> TestClient:
    client = TestClient(web)
    token = csrf_of(client.get("/login").text)
    client.post("/login", data={"name": name, "password": PASSWORDS[name], "csrf": token})
    return client


def test_pages_on_elasticsearch(es_office):
    app, info = es_office
    web = create_app(app)
    client = sign_in(web, "hjj_web")
    assert re.search(r'id="total">7<', client.get("/?range=24h").text)
    inbox = client.get("/alerts").text
    assert info.eco_alert in inbox and info.housing_alert not in inbox
    assert client.get(f"/alerts/{info.housing_alert}").status_code == 403
    html = client.get("/search", params={"q": "死鱼 NOT 官方"}).text
    assert re.search(r'id="hit-total">3<', html) and "<em>" in html and "<script>alert" not in html
    assert PHONE not in client.get("/search.csv", params={"q": "身份证"}).text
    assert PHONE in sign_in(web, "boss").get("/search.csv", params={"q": "身份证"}).text
    page = client.get(f"/alerts/{info.eco_alert}").text
    client.post(f"/alerts/{info.eco_alert}/act", data={"csrf": csrf_of(page), "action": "ack"})
    assert app.store.get_alert(info.eco_alert).status == "acknowledged"


def test_api_on_elasticsearch(es_office):
    app, info = es_office
    _, secret = app.accounts.add_token("hub", agency="eco_env", scopes=("read", "act"))
    client = TestClient(create_app(app), headers={"Authorization": f"Bearer {secret}"})
    seen, cursor = [], None
    while True:
        body = client.get("/api/v1/posts", params={"q": "十里河 OR 改造", "limit": 3,
                                                   **({"cursor": cursor} if cursor else {})}).json()
        seen += [p["id"] for p in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 7
    assert [a["id"] for a in client.get("/api/v1/alerts").json()["items"]] == [info.eco_alert]
    r = client.post(f"/api/v1/alerts/{info.eco_alert}/actions", json={"action": "ack"})
    assert r.status_code == 200 and r.json()["status"] == "acknowledged"

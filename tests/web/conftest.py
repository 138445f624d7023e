from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from tests.support.workbench import PASSWORDS, REPO, populate, write_office  # noqa: E402
from yuqing.config import load_settings  # noqa: E402
from yuqing.jobs import App  # noqa: E402
from yuqing.web.app import create_app  # noqa: E402


@pytest.fixture
def office(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(REPO)
    app = App(load_settings(write_office(tmp_path)))
    info = populate(app, datetime.now(app.settings.tz).replace(microsecond=0) - timedelta(minutes=5))
    yield app, info
    app.close()


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


@pytest.fixture
def login(office):
    app, _ = office
    web = create_app(app)

    def sign_in(name: str, password: str | None = None) -> TestClient:
        client = TestClient(web, base_url="http://testserver")
        token = csrf_of(client.get("/login").text)
        r = client.post("/login", data={"name": name, "password": password or PASSWORDS[name], "csrf": token,
                                        "next": "/"}, follow_redirects=False)
        assert r.status_code == 303, r.text[:300]
        return client
    sign_in.web = web
    return sign_in

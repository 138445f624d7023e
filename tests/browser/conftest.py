"""A real workbench (uvicorn on 127.0.0.1) and Debian's headless Chromium driven by selenium.

Chromium and chromedriver come from the project's setup (.ci/run apt-installs them); without them the
tests fail, unless YUQING_REQUIRE_BROWSER=0 lets them skip. Screenshots go to
$YUQING_TEST_ARTIFACTS/browser (default var/test-artifacts/browser).
"""
from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.support.workbench import REPO, populate, write_office

ARTIFACTS = Path(os.environ.get("YUQING_TEST_ARTIFACTS", REPO / "var" / "test-artifacts")) / "browser"


def _binary(*names: str) -> str | None:
    return next((shutil.which(n) for n in names if shutil.which(n)), None)


def _unavailable(reason: str):
    if os.environ.get("YUQING_REQUIRE_BROWSER", "1") == "0":
        pytest.skip(reason)
    pytest.fail(reason + " (install chromium and chromium-driver, as .ci/run does; YUQING_REQUIRE_BROWSER=0 skips)")


@pytest.fixture
def server(tmp_path, monkeypatch):
    uvicorn = pytest.importorskip("uvicorn")
    from yuqing.config import load_settings
    from yuqing.jobs import App
    from yuqing.web.app import create_app
    monkeypatch.chdir(REPO)
    app = App(load_settings(write_office(tmp_path)))
    info = populate(app, datetime.now(app.settings.tz).replace(microsecond=0) - timedelta(minutes=5))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(app), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline:
            pytest.fail("the workbench did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", app, info
    srv.should_exit = True
    thread.join(10)
    app.close()


@pytest.fixture
def browser(tmp_path, request):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable("selenium is not installed")
    chrome, driver_path = _binary("chromium", "chromium-browser", "google-chrome"), _binary("chromedriver")
    if not chrome or not driver_path:
        _unavailable("no headless Chromium / chromedriver on this machine")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = chrome
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1400,1000",
                "--lang=zh-CN"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False,
                                              "plugins.always_open_pdf_externally": True})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.implicitly_wait(3)
    driver.downloads = downloads
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def shot(name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        driver.save_screenshot(str(path))
        return path
    driver.shot = shot
    yield driver
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        shot(f"FAILED-{request.node.name}")
    driver.quit()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.rep_call = report

"""The workbench in headless Chromium: an agency user's day — sign in, overview, acknowledge and resolve an
alert, another agency's alert absent and its URL refused, search, hostile post text shown as text, the
日报 PDF downloaded; an analyst writing the 日报 from the reports page."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.workbench import PASSWORDS, XSS

pytestmark = pytest.mark.integration


def sign_in(driver, base: str, name: str) -> None:
    driver.get(base + "/")
    assert "/login" in driver.current_url
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(PASSWORDS[name])
    driver.find_element(By.ID, "login").click()
    WebDriverWait(driver, 10).until(EC.presence_of_element_located((By.ID, "me")))


def no_script_ran(driver) -> None:
    """No alert dialog opened and the hostile markup became no element."""
    assert driver.execute_script("return document.querySelectorAll('img[src=x], script:not([src])').length") == 0
    try:
        alert = driver.switch_to.alert
    except Exception:   # noqa: BLE001 - selenium raises NoAlertPresentException: the good case
        return
    text = alert.text
    alert.dismiss()
    pytest.fail(f"a script in post text ran: alert({text!r})")


def submit_and_wait(driver, button, status: str) -> None:
    """Click a form's button, wait for the page it leaves to go, then for the new page's status."""
    from selenium.common.exceptions import WebDriverException
    button.click()
    WebDriverWait(driver, 10).until(EC.staleness_of(button))
    WebDriverWait(driver, 10, ignored_exceptions=(WebDriverException,)).until(
        EC.text_to_be_present_in_element((By.ID, "alert-status"), status))


def pdf_or_skip() -> None:
    from warning.reports.daily import pdf_problem
    problem = pdf_problem()
    if problem and os.environ.get("YUQING_REQUIRE_PDF", "1") == "0":
        pytest.skip(problem)
    assert problem is None, problem


def downloaded(folder: Path, suffix: str, timeout: float = 20) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [p for p in folder.glob(f"*{suffix}")]
        if done and not list(folder.glob("*.crdownload")):
            return done[0]
        time.sleep(0.2)
    pytest.fail(f"no {suffix} downloaded into {folder}: {sorted(p.name for p in folder.iterdir())}")


def pdf_text(path: Path) -> str:
    import pypdf
    return "".join(page.extract_text() for page in pypdf.PdfReader(str(path)).pages).replace(" ", "")


def test_an_agency_users_day_in_the_browser(server, browser):
    base, app, info = server
    pdf_or_skip()
    [_, pdf] = app.write_daily_report(formats=["html", "pdf"], end=info.now)     # the 07:30 job's issue
    sign_in(browser, base, "hjj_web")
    browser.get(base + "/?range=24h")
    assert browser.find_element(By.ID, "total").text == "7"
    assert browser.find_elements(By.CSS_SELECTOR, ".chart svg")
    browser.shot("overview")

    browser.get(base + "/alerts")
    rows = [r.get_attribute("data-id") for r in browser.find_elements(By.CSS_SELECTOR, "#alerts tr[data-id]")]
    assert rows == [info.eco_alert]                     # the 住建局 alert is not listed
    title = browser.find_element(By.CSS_SELECTOR, f'tr[data-id="{info.eco_alert}"] a').text
    assert "<script>" in title and "onerror" in title   # shown as text, not run
    no_script_ran(browser)
    browser.shot("inbox")

    browser.find_element(By.CSS_SELECTOR, f'tr[data-id="{info.eco_alert}"] a').click()
    submit_and_wait(browser, browser.find_element(By.ID, "act-ack"), "已签收")
    form = browser.find_element(By.ID, "act-resolve").find_element(By.XPATH, "./..")
    form.find_element(By.NAME, "note").send_keys("企业已停产整改，水质恢复")
    submit_and_wait(browser, browser.find_element(By.ID, "act-resolve"), "已办结")
    assert "企业已停产整改" in browser.find_element(By.ID, "history").text
    no_script_ran(browser)
    browser.shot("alert-resolved")
    assert app.store.get_alert(info.eco_alert).status == "resolved"

    browser.get(base + f"/alerts/{info.housing_alert}")
    assert browser.find_element(By.ID, "status").text == "403"
    assert app.store.get_alert(info.housing_alert).status == "new"

    browser.get(base + f"/events/{info.event_id}")
    assert "十里河" in browser.find_element(By.ID, "event-title").text
    no_script_ran(browser)
    browser.shot("event")

    browser.get(base + "/search")
    box = browser.find_element(By.ID, "q")
    box.send_keys('十里河 AND (污水 OR 死鱼) NOT 官方')
    browser.find_element(By.ID, "search").click()
    WebDriverWait(browser, 10).until(EC.presence_of_element_located((By.ID, "hit-total")))
    hits = browser.find_elements(By.CSS_SELECTOR, "#hits .hit")
    assert len(hits) == int(browser.find_element(By.ID, "hit-total").text) == 4
    assert all("官方" not in h.text for h in hits)
    assert any(XSS[:20] in h.text for h in hits)         # the hostile post, as text
    assert browser.find_elements(By.CSS_SELECTOR, "#hits em")
    no_script_ran(browser)
    browser.shot("search")

    browser.get(base + "/reports")
    assert not browser.find_elements(By.ID, "make-daily")           # agencies read the 日报, do not write it
    browser.shot("reports")
    browser.find_element(By.CSS_SELECTOR, f'#files-briefings a[href$="{pdf.name}"]').click()
    got = downloaded(browser.downloads, ".pdf")
    assert got.read_bytes()[:5] == b"%PDF-" and "舆情日报" in pdf_text(got)


def test_an_analyst_writes_the_daily_report_pdf_from_the_reports_page(server, browser):
    base, app, info = server
    pdf_or_skip()
    sign_in(browser, base, "ana")
    browser.get(base + "/reports")
    day = info.now.astimezone(app.settings.tz).date().isoformat()
    field = browser.find_element(By.CSS_SELECTOR, '#make-daily input[name="date"]')
    browser.execute_script("arguments[0].value = arguments[1]", field, day)
    for box in browser.find_elements(By.CSS_SELECTOR, '#make-daily input[name="formats"]'):
        if box.is_selected() != (box.get_attribute("value") == "pdf"):
            box.click()
    browser.find_element(By.ID, "make-daily-btn").click()
    WebDriverWait(browser, 60).until(EC.presence_of_element_located((By.CSS_SELECTOR, '#files-briefings a[href$=".pdf"]')))
    link = browser.find_element(By.CSS_SELECTOR, '#files-briefings a[href$=".pdf"]')
    assert link.text == f"briefing-{day.replace('-', '')}-0730.pdf"
    link.click()
    got = downloaded(browser.downloads, ".pdf")
    text = pdf_text(got)
    assert "重点舆情" in text and "十里河" in text


def test_new_alerts_appear_in_the_inbox_without_a_reload(server, browser):
    from datetime import timedelta

    from index.schema import Alert
    from warning.alerts import record
    from tests.support.workbench import LIANXI
    base, app, info = server
    sign_in(browser, base, "hjj_web")
    browser.get(base + "/alerts")
    marker = browser.execute_script("window.__same_page = 1; return window.__same_page")
    now = info.now + timedelta(minutes=1)
    fresh = Alert(id="spike.eco.2", rule="spike", rule_type="volume_spike", level="红", title="十里河二次污染",
                  region=LIANXI, agency="eco_env", agency_name="九江市生态环境局", window_start=now - timedelta(hours=1),
                  window_end=now, first_seen=now, last_seen=now)
    record(fresh, "raised", now, level="红")
    app.store.upsert_alert(fresh)
    WebDriverWait(browser, 15).until(EC.presence_of_element_located((By.CSS_SELECTOR, 'tr[data-id="spike.eco.2"]')))
    assert browser.execute_script("return window.__same_page") == marker   # no reload happened
    assert browser.find_element(By.ID, "new-alerts").is_displayed()
    browser.shot("inbox-new-alert")


def test_a_wrong_password_then_the_locked_account(server, browser):
    base, _, _ = server
    for _ in range(3):
        browser.get(base + "/login")
        button = browser.find_element(By.ID, "login")
        browser.find_element(By.ID, "name").send_keys("zjj_web")
        browser.find_element(By.ID, "password").send_keys("not-the-password")
        button.click()
        # the refusal's page must be back before the next try, or that try's GET cancels this POST
        WebDriverWait(browser, 10).until(EC.staleness_of(button))
        WebDriverWait(browser, 10).until(EC.presence_of_element_located((By.ID, "login-error")))
    assert "锁定" in browser.find_element(By.ID, "login-error").text

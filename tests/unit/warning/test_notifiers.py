"""Notifiers: the file notifier's log and pages, and email through a real SMTP server on 127.0.0.1."""
from __future__ import annotations

import json
from datetime import datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from index.schema import DEFAULT_TZ, Alert, Region
from warning.alerts import AlertChange
from tests.support.smtp import free_port
from warning.notifiers import EmailNotifier, FileNotifier, NotificationError, build_notifiers
from index.configbase import ConfigError, load_model
from warning.config import AgenciesFile, NotifierSettings

REPO = Path(__file__).resolve().parents[3]
AGENCIES = load_model(REPO / "configs" / "agencies.yaml", AgenciesFile)
WHEN = datetime(2026, 11, 18, 14, 0, tzinfo=DEFAULT_TZ)


def make_alert(**overrides) -> Alert:
    fields = dict(id="volume_spike.环境保护.20261118T1400", rule="volume_spike", rule_type="volume_spike",
                  level="橙", title="环境保护类信息量激增（濂溪区）", summary="近6小时环境保护类信息20条。",
                  topic="环境保护", agency="eco_env", agency_name="九江市生态环境局",
                  region=Region(province="江西省", city="九江市", district="濂溪区", district_code="360402"),
                  keywords=["异味", "排污"], post_ids=["weibo:1"], metrics={"count": 20.0, "ratio": 5.25},
                  window_start=WHEN.replace(hour=8), window_end=WHEN, first_seen=WHEN, last_seen=WHEN)
    return Alert(**(fields | overrides))


def test_file_notifier_appends_log_and_rewrites_page(tmp_path):
    notifier = FileNotifier(tmp_path / "out")
    alert = make_alert()
    notifier.send(alert, AlertChange(alert, "new"))
    alert.level = "红"
    notifier.send(alert, AlertChange(alert, "escalated", previous_level="橙"))

    lines = [json.loads(line) for line in (tmp_path / "out" / "alerts.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(r["change"], r["alert"]["level"]) for r in lines] == [("new", "橙"), ("escalated", "红")]
    assert Alert.model_validate(lines[1]["alert"]).id == alert.id   # the log round-trips
    [page] = (tmp_path / "out" / "alerts").glob("*.md")
    text = page.read_text(encoding="utf-8")
    assert text.startswith("# 环境保护类信息量激增（濂溪区）")
    assert "红色预警" in text and "橙 → 红" in text and "九江市生态环境局" in text and "相对基线倍数：5.2倍" in text


def test_file_notifier_names_pages_safely(tmp_path):
    alert = make_alert(id="rule.../../etc:x.20261118T1400")
    FileNotifier(tmp_path).send(alert, AlertChange(alert, "new"))
    [page] = (tmp_path / "alerts").iterdir()
    assert page.parent == tmp_path / "alerts" and "/" not in page.name and ":" not in page.name


def test_file_notifier_failure_raises_notification_error(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    alert = make_alert()
    with pytest.raises(NotificationError, match="cannot write alert"):
        FileNotifier(blocker).send(alert, AlertChange(alert, "new"))


@pytest.fixture
def smtp_server():
    from types import SimpleNamespace

    from tests.support.smtp import smtp_server as serve
    with serve() as (port, messages):
        yield SimpleNamespace(port=port), SimpleNamespace(messages=messages)


def test_email_goes_to_the_routed_agency(smtp_server):
    controller, inbox = smtp_server
    notifier = EmailNotifier(smtp_host="127.0.0.1", smtp_port=controller.port, sender="yuqing@example.gov.cn",
                             agencies=AGENCIES, always_to=["duty@example.gov.cn"])
    alert = make_alert()
    notifier.send(alert, AlertChange(alert, "escalated", previous_level="黄"))
    [envelope] = inbox.messages
    assert envelope.rcpt_tos == ["hjj@example.gov.cn", "duty@example.gov.cn"]
    message = message_from_bytes(envelope.content, policy=policy.default)
    assert message["Subject"] == "【橙色预警·预警升级】环境保护类信息量激增（濂溪区）"
    assert message["X-Yuqing-Alert-Id"] == alert.id
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "九江市生态环境局" in body and "黄 → 橙" in body
    page = message.get_body(preferencelist=("html",)).get_content()
    assert "<h2>" in page and "九江市生态环境局" in page and "黄 → 橙" in page


def test_email_html_part_escapes_post_text_and_reaches_the_agencies_reported_to(smtp_server):
    from index.schema import AlertExample
    controller, inbox = smtp_server
    notifier = EmailNotifier(smtp_host="127.0.0.1", smtp_port=controller.port, sender="yuqing@example.gov.cn",
                             agencies=AGENCIES)
    hostile = AlertExample(post_id="weibo:1", platform="weibo", published_at=datetime(2026, 11, 19, tzinfo=DEFAULT_TZ),
                           url="https://weibo.example.org/1", text='<script>alert(1)</script><img src=x onerror="y">')
    alert = make_alert(examples=[hostile], title="<b>化工厂</b>排污", reported_to=["cac_office"])
    notifier.send(alert, AlertChange(alert, "overdue"))
    [envelope] = inbox.messages
    assert envelope.rcpt_tos == ["hjj@example.gov.cn", "wxb@example.gov.cn"]
    page = message_from_bytes(envelope.content, policy=policy.default).get_body(preferencelist=("html",)).get_content()
    assert "<script>" not in page and "<img" not in page and "&lt;script&gt;" in page and "&lt;b&gt;化工厂" in page
    assert '<a href="https://weibo.example.org/1">' in page


def test_email_falls_back_to_the_default_agency(smtp_server):
    controller, inbox = smtp_server
    notifier = EmailNotifier(smtp_host="127.0.0.1", smtp_port=controller.port, sender="y@example.gov.cn",
                             agencies=AGENCIES)
    alert = make_alert(agency=None, agency_name=None)
    notifier.send(alert, AlertChange(alert, "new"))
    assert inbox.messages[0].rcpt_tos == ["wxb@example.gov.cn"]


def test_email_to_an_unreachable_server_raises():
    port = free_port()   # nobody listens there
    notifier = EmailNotifier(smtp_host="127.0.0.1", smtp_port=port, sender="y@example.gov.cn",
                             agencies=AGENCIES, timeout=2)
    alert = make_alert()
    with pytest.raises(NotificationError, match=f"127.0.0.1:{port} failed"):
        notifier.send(alert, AlertChange(alert, "new"))


def test_build_notifiers_from_app_settings(tmp_path, caplog):
    settings = [NotifierSettings(name="disk", type="file", path="alerts-out", min_level="黄"),
                NotifierSettings(name="plain", type="file"),
                NotifierSettings(name="mail", type="email", smtp_host="127.0.0.1", sender="y@example.gov.cn",
                                 starttls=True),
                NotifierSettings(name="off", type="file", enabled=False)]
    notifiers = build_notifiers(settings, agencies=AGENCIES, default_dir=tmp_path / "default",
                                resolve=lambda p: tmp_path / p)
    assert [n.name for n in notifiers] == ["disk", "plain", "mail"]
    assert notifiers[0].out_dir == tmp_path / "alerts-out" and notifiers[0].min_level.value == "黄"
    assert notifiers[1].out_dir == tmp_path / "default"
    assert notifiers[2].starttls and notifiers[2].smtp_port == 25


@pytest.mark.parametrize("kind", ["dingtalk", "wecom", "feishu", "webhook"])
def test_chat_and_webhook_settings_are_checked(tmp_path, kind, monkeypatch):
    def build(**options):
        return build_notifiers([NotifierSettings(name="ding", type=kind, **options)], agencies=AGENCIES,
                               default_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"notifiers\.0 \(ding\): give url or url_env"):
        build()
    with pytest.raises(ConfigError, match=r"\(ding\)\.urll: unknown option; .* takes: url, url_env, secret_env"):
        build(urll="https://x")
    with pytest.raises(ConfigError, match=r"\(ding\): environment variable ROBOT_URL .* is not set"):
        build(url_env="ROBOT_URL")
    monkeypatch.setenv("ROBOT_URL", "https://oapi.dingtalk.com/robot/send?access_token=t")
    with pytest.raises(ConfigError, match=r"ROBOT_SECRET .* not set"):
        build(url_env="ROBOT_URL", secret_env="ROBOT_SECRET")
    monkeypatch.setenv("ROBOT_SECRET", "s3cret")
    [notifier] = build(url_env="ROBOT_URL", secret_env="ROBOT_SECRET", retries=1)
    assert notifier.url.endswith("access_token=t") and notifier.secret == "s3cret" and notifier.retries == 1


def test_build_notifiers_rejects_incomplete_email_settings(tmp_path):
    with pytest.raises(ConfigError, match=r"notifiers\.0 \(mail\)\.smtp_host: required option is missing"):
        build_notifiers([NotifierSettings(name="mail", type="email", sender="a@b.cn")], agencies=AGENCIES,
                        default_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"\(mail\)\.smtp_hots: unknown option; email takes: smtp_host"):
        build_notifiers([NotifierSettings(name="mail", type="email", smtp_hots="x", smtp_host="x", sender="a@b.cn")],
                        agencies=AGENCIES, default_dir=tmp_path)
    with pytest.raises(ConfigError, match="starttls or ssl, not both"):
        build_notifiers([NotifierSettings(name="m", type="email", smtp_host="x", sender="a@b.cn", starttls=True,
                                          ssl=True)], agencies=AGENCIES, default_dir=tmp_path)
    with pytest.raises(ConfigError, match="YQ_NO_SUCH_PASSWORD"):
        build_notifiers([NotifierSettings(name="m", type="email", smtp_host="x", sender="a@b.cn", username="u",
                                          password_env="YQ_NO_SUCH_PASSWORD")], agencies=AGENCIES,
                        default_dir=tmp_path)
    with pytest.raises(ConfigError, match="unknown alert level"):
        build_notifiers([NotifierSettings(name="f", type="file", min_level="严重")], agencies=AGENCIES,
                        default_dir=tmp_path)
    with pytest.raises(ConfigError, match="not a notifier type"):
        build_notifiers([NotifierSettings(name="f", type="pathlib.Path")], agencies=AGENCIES, default_dir=tmp_path)

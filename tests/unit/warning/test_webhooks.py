"""Chat robots and the generic webhook against real HTTP receivers on 127.0.0.1 that check each
platform's documented signature and payload shape; retries, dead letters and resending."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from index.schema import DEFAULT_TZ, Alert, AlertExample, Region
from warning.alerts import AlertChange, record
from warning.deadletters import DeadLetters
from warning.engine import WarningEngine
from warning.notifiers import NotificationError
from warning.notifiers.webhooks import DingTalkNotifier, FeishuNotifier, WebhookNotifier, WeComNotifier
from warning_support import T0, RecordingStore
from yuqing.config import RulesFile

from test_alert_state import SPIKE
from test_lifecycle import AGENCIES, TOPICS

SECRET = "SEC-test-secret"
HOSTILE = '<script>alert(1)</script>[点我](javascript:alert(1)) <img src=x onerror="y"> **加粗**'


class Receiver:
    """One platform's robot endpoint: verifies, records, answers as the platform does."""

    def __init__(self, platform: str, *, secret: str | None = SECRET, fail_first: int = 0, always_fail: bool = False):
        self.platform, self.secret = platform, secret
        self.fail_first, self.always_fail = fail_first, always_fail
        self.requests: list[dict] = []
        self.accepted: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status, reply = receiver.handle(self.path, dict(self.headers), body)
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        base = f"http://127.0.0.1:{self.server.server_port}"
        return {"dingtalk": f"{base}/robot/send?access_token=tok", "wecom": f"{base}/cgi-bin/webhook/send?key=k1",
                "feishu": f"{base}/open-apis/bot/v2/hook/h1", "webhook": f"{base}/hooks/yuqing"}[self.platform]

    def handle(self, path: str, headers: dict, body: bytes) -> tuple[int, dict]:
        self.requests.append({"path": path, "headers": headers, "body": body})
        if self.always_fail or len(self.requests) <= self.fail_first:
            return 500, {"error": "try later"}
        payload = json.loads(body)
        problem = getattr(self, f"check_{self.platform}")(path, headers, body, payload)
        if problem:
            return 200 if self.platform != "webhook" else 401, problem
        self.accepted.append(payload)
        return 200, {"dingtalk": {"errcode": 0, "errmsg": "ok"}, "wecom": {"errcode": 0, "errmsg": "ok"},
                     "feishu": {"code": 0, "msg": "success"}, "webhook": {"ok": True}}[self.platform]

    # DingTalk: sign = urlencode(base64(HmacSHA256(secret, timestamp + "\n" + secret))), timestamp in ms
    def check_dingtalk(self, path, headers, body, payload):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
        if query.get("access_token") != ["tok"]:
            return {"errcode": 300001, "errmsg": "token is not exist"}
        ts, sign = query["timestamp"][0], query["sign"][0]
        want = base64.b64encode(hmac.new(SECRET.encode(), f"{ts}\n{SECRET}".encode(), hashlib.sha256).digest()).decode()
        if sign != want or abs(time.time() * 1000 - int(ts)) > 3600_000:
            return {"errcode": 310000, "errmsg": "sign not match"}
        md = payload.get("markdown") or {}
        if payload.get("msgtype") != "markdown" or not md.get("title") or not md.get("text"):
            return {"errcode": 40035, "errmsg": "缺少参数 markdown"}
        if len(json.dumps(payload, ensure_ascii=False).encode()) > 20000:
            return {"errcode": 460101, "errmsg": "message too long"}
        return None

    def check_wecom(self, path, headers, body, payload):
        if "key=k1" not in path:
            return {"errcode": 93000, "errmsg": "invalid webhook url"}
        md = payload.get("markdown") or {}
        if payload.get("msgtype") != "markdown" or not md.get("content"):
            return {"errcode": 40008, "errmsg": "invalid message type"}
        if len(md["content"].encode()) > 4096:
            return {"errcode": 40058, "errmsg": "markdown.content exceed max length 4096"}
        return None

    # Feishu: sign = base64(HmacSHA256(key=timestamp + "\n" + secret, msg="")), timestamp in s, in the body
    def check_feishu(self, path, headers, body, payload):
        ts, sign = payload.get("timestamp"), payload.get("sign")
        want = base64.b64encode(hmac.new(f"{ts}\n{SECRET}".encode(), b"", hashlib.sha256).digest()).decode()
        if not ts or sign != want or abs(time.time() - int(ts)) > 3600:
            return {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"}
        card = payload.get("card") or {}
        if (payload.get("msg_type") != "interactive" or card.get("header", {}).get("title", {}).get("tag") != "plain_text"
                or not card.get("elements") or card["elements"][0].get("tag") != "markdown"):
            return {"code": 9499, "msg": "Bad Request"}
        if len(body) > 20 * 1024:
            return {"code": 9499, "msg": "request body too large"}
        return None

    def check_webhook(self, path, headers, body, payload):
        ts = headers.get("X-Yuqing-Timestamp", "")
        want = "sha256=" + hmac.new(SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(headers.get("X-Yuqing-Signature", ""), want):
            return {"error": "bad signature"}
        if not {"event", "alert"} <= set(payload) or payload["alert"].get("id") is None:
            return {"error": "bad payload"}
        return None

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers():
    made: list[Receiver] = []

    def make(platform, **kwargs):
        made.append(Receiver(platform, **kwargs))
        return made[-1]
    yield make
    for r in made:
        r.close()


CLASSES = {"dingtalk": DingTalkNotifier, "wecom": WeComNotifier, "feishu": FeishuNotifier, "webhook": WebhookNotifier}


def notifier(platform, receiver, **kwargs):
    secret = None if platform == "wecom" else kwargs.pop("secret", SECRET)
    return CLASSES[platform]("robot", receiver.url, secret=secret, backoff=0, **kwargs)


def make_alert(examples: int = 2, **overrides) -> Alert:
    at = datetime(2026, 11, 19, 9, 0, tzinfo=DEFAULT_TZ)
    posts = [AlertExample(post_id=f"weibo:{i}", platform="weibo", platform_label="微博", published_at=at,
                          url=f"https://weibo.example.org/{i}", text=f"{HOSTILE} 第{i}条，十里河死鱼" + "情况说明" * 10)
             for i in range(examples)]
    fields = dict(id="volume_spike.环境保护.20261119T0900", rule="volume_spike", rule_type="volume_spike", level="红",
                  title="环境保护类信息量激增（濂溪区）", summary="近6小时环境保护类信息40条。", topic="环境保护",
                  agency="eco_env", agency_name="九江市生态环境局",
                  region=Region(province="江西省", city="九江市", district="濂溪区", district_code="360402"),
                  keywords=["死鱼", "排污"], examples=posts, metrics={"count": 40.0, "ratio": 8.2},
                  window_start=at - timedelta(hours=6), window_end=at, first_seen=at, last_seen=at)
    return Alert(**(fields | overrides))


def raised_with(channel, *, max_notify_attempts: int, **fields):
    """A store holding one alert raised at T0 (deadlines set) and an engine notifying through `channel`."""
    store = RecordingStore()
    engine = WarningEngine(store, RulesFile.model_validate({"rules": [SPIKE]}), AGENCIES, TOPICS, [channel],
                           max_notify_attempts=max_notify_attempts)
    alert = make_alert(first_seen=T0, last_seen=T0, window_start=T0 - timedelta(hours=1), window_end=T0, **fields)
    record(alert, "raised", T0, level=alert.level)
    engine.desk.on_raised(alert, T0)
    store.upsert_alert(alert)
    return store, engine, alert


@pytest.mark.parametrize("platform", ["dingtalk", "wecom", "feishu", "webhook"])
def test_each_platform_accepts_the_signed_message_and_post_text_stays_inert(receivers, platform):
    receiver = receivers(platform)
    alert = make_alert()
    notifier(platform, receiver).send(alert, AlertChange(alert, "new"))
    assert len(receiver.accepted) == 1 and len(receiver.requests) == 1
    text = json.dumps(receiver.accepted[0], ensure_ascii=False)
    if platform == "webhook":
        assert receiver.accepted[0]["alert"]["id"] == alert.id and receiver.accepted[0]["event"] == "new"
        return
    assert "十里河死鱼" in text and "九江市生态环境局" in text
    for raw in ("<script>", "<img", "](javascript", "**加粗**"):
        assert raw not in text, raw


def test_a_wrong_secret_is_refused_by_the_platform_and_not_retried(receivers):
    receiver = receivers("dingtalk")
    alert = make_alert()
    with pytest.raises(NotificationError, match="errcode=310000: sign not match"):
        notifier("dingtalk", receiver, secret="wrong", retries=3).send(alert, AlertChange(alert, "new"))
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("platform", ["wecom", "dingtalk", "feishu"])
def test_long_content_is_split_under_the_platform_limit(receivers, platform):
    receiver = receivers(platform)
    alert = make_alert(examples=120)
    notifier(platform, receiver).send(alert, AlertChange(alert, "new"))
    assert len(receiver.accepted) >= 2, "120 long posts do not fit one message"
    n = len(receiver.accepted)
    texts = [json.dumps(p, ensure_ascii=False) for p in receiver.accepted]
    assert all(f"（{i}/{n}）" in t for i, t in enumerate(texts, 1))
    assert sum(t.count("十里河死鱼") for t in texts) == 120, "nothing is lost between the parts"
    assert "[原文链接](https://weibo.example.org/7)" in "".join(texts)


def test_a_receiver_that_fails_twice_then_accepts_gets_the_message_once(receivers):
    receiver = receivers("feishu", fail_first=2)
    alert = make_alert()
    notifier("feishu", receiver, retries=3).send(alert, AlertChange(alert, "new"))
    assert len(receiver.requests) == 3 and len(receiver.accepted) == 1


def test_a_receiver_that_always_fails_ends_in_a_dead_letter_that_can_be_resent(receivers):
    receiver = receivers("dingtalk", always_fail=True)
    channel = notifier("dingtalk", receiver, retries=1)
    store, engine, alert = raised_with(channel, max_notify_attempts=3)
    for minutes in range(5):
        engine.evaluate(T0 + timedelta(minutes=minutes))
    assert len(receiver.requests) == 3 * 2, "three attempts of two tries each, then no more"
    [letter] = DeadLetters(store).list()
    assert (letter.alert_id, letter.notifier, letter.change) == (alert.id, "robot", "new")
    assert "HTTP 500" in letter.error
    with pytest.raises(NotificationError):
        DeadLetters(store).resend(letter.id, [channel], T0 + timedelta(minutes=10))
    assert DeadLetters(store).get(letter.id).attempts == 4
    receiver.always_fail = False
    DeadLetters(store).resend(letter.id, [channel], T0 + timedelta(minutes=11))
    assert DeadLetters(store).list() == [] and len(receiver.accepted) == 1
    got = store.get_alert(alert.id)
    assert got.history[-1]["event"] == "notified" and got.history[-1]["resent"] == letter.id
    engine.evaluate(T0 + timedelta(minutes=12))
    assert len(receiver.accepted) == 1, "resent once; nothing more is owed"
    with pytest.raises(KeyError, match="no dead letter"):
        DeadLetters(store).resend(letter.id, [channel], T0)


def test_a_later_success_retires_the_dead_letter(receivers):
    receiver = receivers("webhook", always_fail=True)
    channel = notifier("webhook", receiver, retries=0)
    store, engine, alert = raised_with(channel, max_notify_attempts=2, level="橙")
    engine.evaluate(T0)
    engine.evaluate(T0 + timedelta(minutes=1))
    assert len(DeadLetters(store).list()) == 1
    receiver.always_fail = False
    engine.evaluate(T0 + timedelta(hours=3))                 # overdue: a new change, delivered
    assert receiver.accepted and DeadLetters(store).list() == []


def test_tiny_size_limits_still_split_and_end(receivers):
    receiver = receivers("wecom")
    alert = make_alert(examples=3, title="环境保护类信息量激增" * 4)
    WeComNotifier("robot", receiver.url, max_bytes=200, backoff=0).send(alert, AlertChange(alert, "new"))
    assert receiver.accepted and all(len(p["markdown"]["content"].encode()) <= 4096 for p in receiver.accepted)

"""The event special report (专报): its sections from a stored incident, escaping of hostile post text in
HTML, the DOCX opened again with python-docx (sections, 公文 fonts, page, charts), and the attachment
of a 红 alert's e-mail."""
from __future__ import annotations

import io
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from docx import Document
from docx.oxml.ns import qn

from index.schema import Author, Engagement, Event
from warning.alerts import AlertChange
from warning.lifecycle import AlertDesk
from warning.notifiers import EmailNotifier
from warning.reports.event_report import (EventReportBuilder, ReportError, chart_font, render_docx, render_html,
                                          write_event_report)
from warning_support import T0, RecordingStore, make_post

from test_lifecycle import AGENCIES, TOPICS, raised
from test_notifiers import smtp_server  # noqa: F401 - the real SMTP server fixture

HOSTILE = '<script>alert("x")</script><img src=x onerror="steal()">化工厂\x01排污\x1b，电话13812345678'
SECTIONS = ("一、事件概况", "二、发展脉络", "三、传播态势", "四、首发与关键传播节点", "五、主要观点", "六、处置情况",
            "七、处置建议")


@pytest.fixture
def incident():
    store = RecordingStore()
    posts = []
    for i in range(24):
        text = (HOSTILE if i == 0 else
                f"十里河死鱼 河水发黄 第{i}条" if i % 3 else f"濂溪区回应十里河死鱼 已组织调查 第{i}条")
        post = make_post(T0 + timedelta(hours=i), text=text, sentiment="负面", polarity="负面" if i % 4 else "中性",
                         platform="weibo" if i % 2 else "news", engagement=10 * i, event_id="ev_1",
                         url=f"https://weibo.example.org/{i}")
        posts.append(post.model_copy(update={"author": Author(name=f"网友{i}", followers=1000 * i, verified=i == 5)}))
    store.upsert_posts(posts)
    store.upsert_events([Event(id="ev_1", title="十里河死鱼", first_post_id=posts[0].id, first_seen=posts[0].published_at,
                               last_seen=posts[-1].published_at, post_count=24, topic="环境保护")])
    alert = raised(store, level="红", at=T0 + timedelta(hours=20))
    store.upsert_alert(alert.model_copy(update={"post_ids": [posts[5].id, posts[7].id]}))
    AlertDesk(store, AGENCIES).act(alert.id, "ack", "hjj_duty", T0 + timedelta(hours=20, minutes=10))
    AlertDesk(store, AGENCIES).act(alert.id, "handle", "hjj_chen", T0 + timedelta(hours=21),
                                   note="已赴现场<b>取样</b>")
    return store, alert.id


def test_the_report_covers_every_section_and_links_its_claims(incident):
    store, alert_id = incident
    report = EventReportBuilder(store, AGENCIES, TOPICS, office_name="九江市委网信办").build(alert_id, T0 + timedelta(days=1))
    assert report.title == "关于“十里河死鱼”的舆情专报" and report.post_count == 24
    assert report.risk.startswith("风险研判：高风险。红色预警")
    assert report.first_report.posts[0]["url"] == "https://weibo.example.org/0"
    assert all(c.posts for c in report.summary + report.timeline + report.spreaders + report.views)
    assert sum(int(c.text[1:c.text.index("条")]) for c in report.views) == 24, "every post is in one view"
    assert [line.split(" ", 2)[2] for line in report.handling][-2:] == ["hjj_duty 签收",
                                                                        "hjj_chen 开始处置：已赴现场<b>取样</b>"]
    assert report.suggestion.startswith("生态环境部门立即赴现场"), "topics.yaml handling: 环境保护 × 红"
    assert report.volume_png.startswith(b"\x89PNG") and report.polarity_png.startswith(b"\x89PNG")
    assert "13812345678" not in report.first_report.text, "personal data masked"


def test_html_escapes_hostile_post_text(incident):
    store, alert_id = incident
    html = render_html(EventReportBuilder(store, AGENCIES, TOPICS).build(alert_id, T0 + timedelta(days=1)))
    for section in SECTIONS:
        assert section in html
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>取样</b>" not in html
    assert "&lt;script&gt;" in html and "&lt;b&gt;取样&lt;/b&gt;" in html
    assert '<a href="https://weibo.example.org/0">' in html


def test_docx_follows_the_official_document_conventions(incident, tmp_path):
    store, alert_id = incident
    paths = write_event_report(store, alert_id, tmp_path, agencies=AGENCIES, topics=TOPICS, office_name="九江市委网信办")
    assert [p.suffix for p in paths] == [".html", ".docx"]
    doc = Document(str(paths[1]))
    section = doc.sections[0]
    for length, mm in ((section.page_width, 210), (section.page_height, 297), (section.top_margin, 37),
                       (section.left_margin, 28)):
        assert abs(length.mm - mm) < 0.1, (length.mm, mm)
    paragraphs = [p for p in doc.paragraphs if p.text.strip()]
    texts = [p.text for p in paragraphs]
    for heading in SECTIONS:
        assert heading in texts

    def east_asia(paragraph):
        return paragraph.runs[0]._element.rPr.rFonts.get(qn("w:eastAsia"))

    title = next(p for p in paragraphs if p.text == "关于“十里河死鱼”的舆情专报")
    assert east_asia(title) == "方正小标宋简体" and title.runs[0].font.size.pt == 22
    assert east_asia(next(p for p in paragraphs if p.text == "一、事件概况")) == "黑体"
    body = next(p for p in paragraphs if p.text.startswith("首发："))
    assert east_asia(body) == "仿宋_GB2312" and body.runs[0].font.size.pt == 16
    assert "https://weibo.example.org/0" in body.text, "claims name their sources"
    assert len(doc.inline_shapes) == 2, "volume and polarity charts"
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    fonts = doc.part.part_related_by(RT.FONT_TABLE).blob.decode()
    assert '<w:font w:name="方正小标宋简体"><w:altName w:val="宋体"/>' in fonts, "a fallback where the font is absent"
    # hostile text is plain text in a DOCX: written as it reads, control characters dropped
    assert any('<script>alert("x")</script>' in t for t in texts)
    assert not any("\x01" in t or "\x1b" in t for t in texts)


def test_unknown_subjects_and_formats_are_refused(incident, tmp_path):
    store, _ = incident
    with pytest.raises(ReportError, match="no alert or event 'nope'"):
        write_event_report(store, "nope", tmp_path, agencies=AGENCIES, topics=TOPICS)
    with pytest.raises(ValueError, match="unknown report format"):
        write_event_report(store, "ev_1", tmp_path, agencies=AGENCIES, topics=TOPICS, formats=("pdf",))
    assert write_event_report(store, "ev_1", tmp_path, agencies=AGENCIES, topics=TOPICS, formats=("html",))


def test_the_charts_have_a_cjk_font():
    assert chart_font() is not None, "install a CJK font (Debian fonts-noto-cjk; .ci/run does)"


def test_a_red_alerts_mail_carries_its_report(incident, smtp_server):
    store, alert_id = incident
    controller, inbox = smtp_server
    mail = EmailNotifier(smtp_host="127.0.0.1", smtp_port=controller.port, sender="y@example.gov.cn", agencies=AGENCIES)
    builder = EventReportBuilder(store, AGENCIES, TOPICS)
    mail.report_for = lambda a: (f"专报-{a.id}.docx", render_docx(builder.build(a.id, T0 + timedelta(days=1))))
    alert = store.get_alert(alert_id)
    mail.send(alert, AlertChange(alert, "new"))
    mail.send(alert.model_copy(update={"level": "橙"}), AlertChange(alert, "new"))
    red, orange = (message_from_bytes(m.content, policy=policy.default) for m in inbox.messages)
    [attachment] = list(red.iter_attachments())
    assert attachment.get_filename() == f"专报-{alert_id}.docx"
    assert "一、事件概况" in [p.text for p in Document(io.BytesIO(attachment.get_content())).paragraphs]
    assert list(orange.iter_attachments()) == []

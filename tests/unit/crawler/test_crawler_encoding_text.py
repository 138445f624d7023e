"""Decoding (UTF-8, GBK with and without declarations) and text cleaning."""
from __future__ import annotations

import pytest
from scrapy.http import HtmlResponse, Request
from scrapy.utils.test import get_crawler

from crawler.extract.encoding import UnknownEncoding, normalize_encoding, pick_encoding, replacement_ratio
from crawler.extract.text import clean_line, clean_text, html_to_text
from crawler.middlewares import PageEncodingMiddleware, UndecodableResponse

GBK_ONLY = "庐山西海镕喆桥修缮完工"  # 镕 and 喆 are in GBK but not in GB2312


def _respond(body: bytes, content_type: str = "text/html", **settings) -> HtmlResponse:
    crawler = get_crawler(settings_dict=settings)
    middleware = PageEncodingMiddleware.from_crawler(crawler)
    url = "http://127.0.0.1/page.html"
    response = HtmlResponse(url=url, body=body, headers={"Content-Type": content_type})
    return middleware.process_response(Request(url), response)


def test_gbk_declared_only_in_meta():
    html = f'<html><head><meta http-equiv="Content-Type" content="text/html; charset=gbk"></head><body><p>{GBK_ONLY}</p></body></html>'
    response = _respond(html.encode("gbk"))
    assert response.css("p::text").get() == GBK_ONLY


def test_gb2312_declaration_with_gbk_only_characters_decodes_as_gb18030():
    html = f'<html><head><meta charset="gb2312"></head><body><p>{GBK_ONLY}</p></body></html>'
    response = _respond(html.encode("gbk"))
    assert response.encoding == "gb18030"
    assert response.css("p::text").get() == GBK_ONLY


def test_undeclared_gbk_is_not_mistaken_for_korean():
    body = f"<html><body><p>濂溪区发布时间{GBK_ONLY}</p></body></html>".encode("gbk")
    assert pick_encoding(body, "text/html") == "gb18030"
    assert _respond(body).css("p::text").get() == f"濂溪区发布时间{GBK_ONLY}"


def test_utf8_declared_but_gbk_bytes():
    body = f'<meta charset="utf-8"><p>{GBK_ONLY}</p>'.encode("gbk")
    assert _respond(body, "text/html; charset=utf-8").css("p::text").get() == GBK_ONLY


def test_stale_gbk_declaration_on_utf8_bytes():
    body = f'<meta charset="gbk"><p>{GBK_ONLY}</p>'.encode("utf-8")
    assert pick_encoding(body, "text/html") == "utf-8"
    assert _respond(body).css("p::text").get() == GBK_ONLY


def test_header_charset_is_trusted_when_it_fits():
    body = f"<p>{GBK_ONLY}</p>".encode("utf-8")
    assert pick_encoding(body, "text/html; charset=utf-8") is None
    assert _respond(body, "text/html; charset=utf-8").css("p::text").get() == GBK_ONLY


def test_source_encoding_is_forced_and_widened():
    body = f"<p>{GBK_ONLY}</p>".encode("gbk")
    response = _respond(body, "text/html; charset=utf-8", YUQING_SOURCE_ENCODING="gb2312")
    assert response.encoding == "gb18030"
    assert response.css("p::text").get() == GBK_ONLY


def test_undecodable_bytes_are_rejected_with_a_reason():
    with pytest.raises(UndecodableResponse, match="does not decode"):
        _respond(bytes(range(128, 256)) * 10)


def test_a_few_bad_bytes_are_tolerated():
    body = ("<p>" + "九江新闻" * 200 + "</p>").encode("utf-8") + b"\xff" + "<p>结束</p>".encode("utf-8")
    assert "结束" in _respond(body, "text/html; charset=utf-8").text


def test_normalize_encoding():
    assert normalize_encoding("GBK") == normalize_encoding("gb2312") == "gb18030"
    assert normalize_encoding("UTF8") == "utf-8"
    with pytest.raises(UnknownEncoding):
        normalize_encoding("no-such-codec")


def test_replacement_ratio():
    assert replacement_ratio("abc") == 0.0
    assert replacement_ratio("a\ufffd") == 0.5
    assert replacement_ratio("   ") == 0.0


def test_clean_text_spaces_and_invisible_characters():
    raw = "\u3000\u3000第一段\xa0 文字\u200b。\r\n\n   \n\t第二段  \ufeff"
    assert clean_text(raw) == "第一段 文字。\n第二段"
    assert clean_line(" 标题\n 第二行 ") == "标题 第二行"


def test_html_to_text_keeps_emoji_alt_and_link_text():
    html = ("九江<a href='/n/x'>@濂溪发布</a> 太臭了<span class='url-icon'><img alt='[怒]' src='a.png'></span>"
            "<br/>第二行<img alt='配图' src='b.jpg'><script>var x=1;</script>")
    assert html_to_text(html) == "九江@濂溪发布 太臭了[怒]\n第二行"


def test_html_to_text_on_broken_markup_and_entities():
    assert html_to_text("<p>未闭合<b>加粗<div>块") == "未闭合加粗\n块"
    assert html_to_text("A &amp; B") == "A & B"
    assert html_to_text("") == ""

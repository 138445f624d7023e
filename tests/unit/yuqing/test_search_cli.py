"""`yuqing search` with the query language: results, and a readable refusal (exit 2) for bad syntax."""
from __future__ import annotations

from tests.unit.yuqing.test_schemes_cli import config, stored  # noqa: F401 - the fixture and helper
from yuqing.cli import EXIT_CONFIG, EXIT_OK, main


def test_search_reads_the_query_language(config, capsys):  # noqa: F811
    stored(config, ["河里发现大量垃圾", "化工厂爆炸，河里有垃圾", "天气不错"]).close()
    assert main(["search", "--config", str(config), "--", "垃圾", "-爆炸"]) == EXIT_OK   # -- before a -word
    out = capsys.readouterr().out
    assert out.startswith("1 posts") and "大量" in out
    assert main(["search", "垃圾 OR 天气", "region:360402", "--config", str(config)]) == EXIT_OK
    assert capsys.readouterr().out.startswith("3 posts")


def test_syntax_error_is_a_message_and_exit_2(config, capsys):  # noqa: F811
    assert main(["search", "十里河", "OR", "--config", str(config)]) == EXIT_CONFIG == 2
    captured = capsys.readouterr()
    assert "search: OR at 5 needs a term after it" in captured.err
    assert "  十里河 OR\n         ^" in captured.err and "Traceback" not in captured.err
    assert main(["search", "colour:red", "--config", str(config)]) == 2
    assert "unknown field 'colour' at 1; fields: platform" in capsys.readouterr().err

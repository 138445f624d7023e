"""Bad configuration fails at start with a message naming the file, the field and the problem."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from yuqing.cli import main
from yuqing.config import ConfigError, load_settings

CONFIGS = Path(__file__).resolve().parents[3] / "configs"


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    for name in ("app.yaml", "sources.yaml", "topics.yaml", "rules.yaml", "agencies.yaml"):
        shutil.copy(CONFIGS / name, tmp_path / name)
    return tmp_path


def _edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_shipped_configs_load():
    settings = load_settings(CONFIGS / "app.yaml")
    assert settings.app.store.backend == "sqlite"
    assert {a.id for a in settings.agencies.agencies} >= {"eco_env", "cac_office"}
    assert "环境保护" in {t.label for t in settings.topics.topics}


def test_demo_config_loads(monkeypatch):
    monkeypatch.setenv("YUQING_DEMO_BASE", "http://127.0.0.1:1")
    settings = load_settings(CONFIGS / "demo" / "app.yaml")
    assert all(u.startswith("http://127.0.0.1:1/") for s in settings.sources.sources for u in s.start_urls)


def test_unknown_field_names_file_and_field(config_dir):
    _edit(config_dir / "sources.yaml", lambda d: d["sources"][1].update(shedule={"interval_minutes": 5}))
    with pytest.raises(ConfigError) as err:
        load_settings(config_dir / "app.yaml")
    msg = str(err.value)
    assert "sources.yaml" in msg and "sources.1.shedule" in msg and "Extra inputs are not permitted" in msg


def test_bad_cron_is_explained(config_dir):
    _edit(config_dir / "app.yaml", lambda d: d["schedule"].update(briefing={"cron": "30 25 * * *"}))
    with pytest.raises(ConfigError) as err:
        load_settings(config_dir / "app.yaml")
    assert "app.yaml" in str(err.value) and "schedule.briefing" in str(err.value) and "cron" in str(err.value)


def test_schedule_needs_exactly_one_kind(config_dir):
    _edit(config_dir / "sources.yaml",
          lambda d: d["sources"][0].update(schedule={"interval_minutes": 5, "cron": "* * * * *"}))
    with pytest.raises(ConfigError, match=r"sources\.0\.schedule.*exactly one"):
        load_settings(config_dir / "app.yaml")


def test_unknown_topic_in_agencies(config_dir):
    _edit(config_dir / "agencies.yaml", lambda d: d["agencies"][0].update(topics=["环保"]))
    with pytest.raises(ConfigError) as err:
        load_settings(config_dir / "app.yaml")
    assert "agencies.yaml" in str(err.value) and "agencies.0.topics" in str(err.value) and "'环保'" in str(err.value)


def test_default_agency_must_exist(config_dir):
    _edit(config_dir / "agencies.yaml", lambda d: d.update(default_agency="nobody"))
    with pytest.raises(ConfigError, match="default_agency 'nobody'"):
        load_settings(config_dir / "app.yaml")


def test_yaml_syntax_error_has_line(config_dir):
    (config_dir / "topics.yaml").write_text("topics:\n  - label: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"topics\.yaml: line \d+"):
        load_settings(config_dir / "app.yaml")


def test_missing_file(config_dir):
    (config_dir / "rules.yaml").unlink()
    with pytest.raises(ConfigError, match=r"rules\.yaml: file not found"):
        load_settings(config_dir / "app.yaml")


def test_unset_environment_variable_in_url(config_dir, monkeypatch):
    monkeypatch.delenv("NO_SUCH_BASE", raising=False)
    _edit(config_dir / "sources.yaml", lambda d: d["sources"][0].update(start_urls=["${NO_SUCH_BASE}/rss.xml"]))
    with pytest.raises(ConfigError, match="NO_SUCH_BASE"):
        load_settings(config_dir / "app.yaml")


def test_cli_exits_2_with_message(config_dir, capsys):
    _edit(config_dir / "app.yaml", lambda d: d.update(timezone="Mars/Olympus"))
    code = main(["config", "check", "--config", str(config_dir / "app.yaml")])
    assert code == 2
    err = capsys.readouterr().err
    assert "app.yaml" in err and "timezone" in err and "Mars/Olympus" in err


def test_environment_default_in_url(config_dir, monkeypatch):
    monkeypatch.delenv("NO_SUCH_BASE", raising=False)
    _edit(config_dir / "sources.yaml",
          lambda d: d["sources"][0].update(start_urls=["${NO_SUCH_BASE:-http://127.0.0.1:8800}/rss.xml"]))
    assert load_settings(config_dir / "app.yaml").sources.sources[0].start_urls == ["http://127.0.0.1:8800/rss.xml"]
    monkeypatch.setenv("NO_SUCH_BASE", "http://127.0.0.1:9")
    assert load_settings(config_dir / "app.yaml").sources.sources[0].start_urls == ["http://127.0.0.1:9/rss.xml"]


@pytest.mark.parametrize("events, field", [
    ({"merge_window_hours": 96}, "nlp.events.merge_window_hours"),
    ({"merge_similarity": 0}, "nlp.events.merge_similarity"),
    ({"relation_weight": 2}, "nlp.events.relation_weight"),
    ({"merge_min_shared_terms": 0}, "nlp.events.merge_min_shared_terms"),
    ({"merge_treshold": 0.3}, "nlp.events.merge_treshold"),
])
def test_event_settings_are_validated(config_dir, events, field):
    _edit(config_dir / "app.yaml", lambda d: d["nlp"].update(events=events))
    with pytest.raises(ConfigError) as err:
        load_settings(config_dir / "app.yaml")
    assert "app.yaml" in str(err.value) and field in str(err.value)


def test_event_settings_build_the_event_config(config_dir):
    from datetime import timedelta
    _edit(config_dir / "app.yaml", lambda d: d["nlp"].update(events={"merge": False, "merge_window_hours": 12,
                                                                    "relation_weight": 0.05}))
    config = load_settings(config_dir / "app.yaml").app.nlp.events.event_config()
    assert (config.merge, config.merge_window, config.relation_weight) == (False, timedelta(hours=12), 0.05)


def test_log_level_from_the_environment_in_any_case_or_a_clear_error(monkeypatch, capsys):
    from yuqing.cli import build_parser, main
    monkeypatch.setenv("YUQING_LOG_LEVEL", "warning")
    assert build_parser().parse_args(["nlp", "train", "polarity"]).log_level == "WARNING"
    monkeypatch.setenv("YUQING_LOG_LEVEL", "loud")
    with pytest.raises(SystemExit) as exc:
        main(["nlp", "train", "polarity"])
    assert exc.value.code == 2 and "YUQING_LOG_LEVEL='loud'" in capsys.readouterr().err

"""`yuqing config check` runs the service's preflight: what would fail every scheduled run fails here first."""
from __future__ import annotations

import shutil
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from yuqing.checks import preflight
from yuqing.cli import EXIT_CONFIG, EXIT_OK, main
from yuqing.config import ConfigError, load_settings

REPO = Path(__file__).resolve().parents[3]
CONFIGS = REPO / "configs"


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch) -> Path:
    for name in ("app.yaml", "sources.yaml", "topics.yaml", "rules.yaml", "agencies.yaml"):
        shutil.copy(CONFIGS / name, tmp_path / name)
    monkeypatch.chdir(REPO)    # default relative paths (models) resolve as in a checkout
    return tmp_path


def _edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_shipped_config_passes_preflight(config_dir, capsys):
    assert main(["config", "check", "--config", str(config_dir / "app.yaml")]) == EXIT_OK
    assert "OK" in capsys.readouterr().out


def test_email_notifier_without_host_fails_check_not_the_service(config_dir, capsys):
    _edit(config_dir / "app.yaml", lambda d: d.update(notifiers=[{"name": "mail", "type": "email",
                                                                  "sender": "yq@example.gov.cn"}]))
    assert main(["config", "check", "--config", str(config_dir / "app.yaml")]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert f"{config_dir / 'app.yaml'}: notifiers.0 (mail).smtp_host: required option is missing" in err


def test_missing_password_env_is_found_by_preflight(config_dir, monkeypatch):
    monkeypatch.delenv("YQ_SMTP_PW_UNSET", raising=False)
    _edit(config_dir / "app.yaml", lambda d: d.update(notifiers=[{
        "name": "mail", "type": "email", "smtp_host": "127.0.0.1", "sender": "yq@example.gov.cn", "ssl": True,
        "username": "yq", "password_env": "YQ_SMTP_PW_UNSET"}]))
    result = preflight(load_settings(config_dir / "app.yaml"))
    assert not result.ok and "YQ_SMTP_PW_UNSET" in result.problems[0]
    monkeypatch.setenv("YQ_SMTP_PW_UNSET", "secret")
    assert preflight(load_settings(config_dir / "app.yaml")).ok


def test_missing_models_dir_fails_check(config_dir, tmp_path, capsys):
    _edit(config_dir / "app.yaml", lambda d: d.setdefault("nlp", {}).update(models_dir=str(tmp_path / "nope")))
    assert main(["config", "check", "--config", str(config_dir / "app.yaml")]) == EXIT_CONFIG
    assert "nlp.models_dir: models directory" in capsys.readouterr().err


def test_rule_topic_must_exist_in_topics_yaml(config_dir):
    _edit(config_dir / "rules.yaml", lambda d: d["rules"][0].setdefault("filter", {}).update(topics=["环保"]))
    with pytest.raises(ConfigError, match=r"rules\.0 \(volume_spike\)\.filter\.topics: unknown topic '环保'"):
        load_settings(config_dir / "app.yaml")


def test_unknown_source_type_names_file_and_field(config_dir):
    _edit(config_dir / "sources.yaml", lambda d: d["sources"][0].update(type="tiktok"))
    with pytest.raises(ConfigError, match=r"sources\.yaml: invalid configuration\n  sources\.0\.type: "
                                          r"unknown source type 'tiktok'"):
        load_settings(config_dir / "app.yaml")


def test_schemes_are_validated_with_file_and_field(config_dir):
    _edit(config_dir / "topics.yaml", lambda d: d.update(schemes=[{"name": "本地", "include_any": ["九江"]}]))
    with pytest.raises(ConfigError, match=r"topics\.yaml: invalid configuration\n  schemes\.0\.include_any"):
        load_settings(config_dir / "app.yaml")
    _edit(config_dir / "topics.yaml", lambda d: d.update(schemes=[{"name": "本地", "地域": ["九江"]},
                                                                  {"name": "本地", "事件": ["爆炸"]}]))
    with pytest.raises(ConfigError, match=r"topics\.yaml: invalid configuration\n  schemes: scheme name '本地' is used twice "
                                          r"\(schemes\.0 and schemes\.1\)"):
        load_settings(config_dir / "app.yaml")


def test_rules_may_only_name_schemes_topics_yaml_defines(config_dir):
    _edit(config_dir / "topics.yaml", lambda d: d["schemes"].append({"name": "本地", "地域": ["九江"]}))
    _edit(config_dir / "rules.yaml", lambda d: d["rules"][0].update(filter={"schemes": ["本地", "外地"]}))
    with pytest.raises(ConfigError, match=r"rules\.yaml: rules\.0 \(\S+\)\.filter\.schemes: unknown scheme '外地'"):
        load_settings(config_dir / "app.yaml")
    _edit(config_dir / "rules.yaml", lambda d: d["rules"][0].update(filter={"schemes": ["本地"]}))
    settings = load_settings(config_dir / "app.yaml")
    assert [s.name for s in settings.topics.schemes][-1] == "本地"
    _edit(config_dir / "topics.yaml", lambda d: d.update(schemes=[]))     # the shipped rules name 本辖区
    with pytest.raises(ConfigError, match=r"filter\.schemes: unknown scheme '本辖区'; topics\.yaml schemes: none defined"):
        load_settings(config_dir / "app.yaml")


def test_third_party_components_by_class_path(config_dir, tmp_path, monkeypatch):
    """A rule type and a notifier type from the office's own package, named by class path."""
    package = tmp_path / "office_plugins"
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent('''
        from warning.notifiers.base import Notifier
        from warning.rules import Rule

        class QuietRule(Rule):
            type_name = "quiet"
            def evaluate(self, store, now):
                return []

        class ListNotifier(Notifier):
            sent = []
            def send(self, alert, change):
                self.sent.append(alert.id)
    '''), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    _edit(config_dir / "rules.yaml", lambda d: d["rules"].append({"name": "mine", "type": "office_plugins.QuietRule"}))
    _edit(config_dir / "app.yaml", lambda d: d.update(notifiers=[{"name": "list",
                                                                  "type": "office_plugins.ListNotifier"}]))
    settings = load_settings(config_dir / "app.yaml")
    result = preflight(settings)
    assert result.ok, result.problems
    from warning.notifiers import build_notifiers
    from warning.rules import build_rules
    assert type(build_rules(settings.rules)[-1]).__name__ == "QuietRule"
    notifiers = build_notifiers(settings.app.notifiers, agencies=settings.agencies, default_dir=tmp_path)
    assert type(notifiers[0]).__name__ == "ListNotifier"
    _edit(config_dir / "rules.yaml", lambda d: d["rules"][-1].update(type="office_plugins.Missing"))
    with pytest.raises(ConfigError, match="has no 'Missing'"):
        load_settings(config_dir / "app.yaml")
    sys.modules.pop("office_plugins", None)

"""The test-node helper: version choice from Maven metadata, cache lookup, skip/fail policy."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import es_node
from tests.support.es_node import NodeUnavailable, newest_in_series, versions_from_metadata

METADATA = """<?xml version="1.0" encoding="UTF-8"?>
<metadata><groupId>org.elasticsearch.distribution.integ-test-zip</groupId><artifactId>elasticsearch</artifactId>
<versioning><latest>9.1.0</latest><release>9.1.0</release><versions>
<version>8.18.0</version><version>8.19.2</version><version>8.19.10</version><version>8.19.4</version>
<version>8.19.11-SNAPSHOT</version><version>8.190.1</version><version>9.1.0</version>
</versions></versioning></metadata>"""


def test_newest_819_is_chosen_numerically():
    versions = versions_from_metadata(METADATA)
    assert "8.19.10" in versions
    assert newest_in_series(versions, "8.19") == "8.19.10"      # not 8.19.4 (text order), no snapshot, no 8.190
    assert newest_in_series(versions, "7.17") is None


def test_pinned_version_and_cached_fallback(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("YUQING_ES_VERSION", "8.19.2")
    assert es_node.resolve_version() == "8.19.2"
    monkeypatch.delenv("YUQING_ES_VERSION")
    monkeypatch.setenv("YUQING_M2_REPO", str(tmp_path))
    monkeypatch.setattr(es_node, "METADATA_URL", "http://127.0.0.1:1/maven-metadata.xml")   # unreachable
    with pytest.raises(NodeUnavailable, match="cannot read"):
        es_node.resolve_version()
    cached = es_node.artifact_path("8.19.7")
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"zip")
    assert es_node.resolve_version() == "8.19.7"


def test_missing_tools_are_named(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("YUQING_M2_REPO", str(tmp_path))
    monkeypatch.setattr(es_node.shutil, "which", lambda name: None)
    with pytest.raises(NodeUnavailable, match="Maven"):
        es_node.download("8.19.99")


def test_node_url_policy(monkeypatch):
    monkeypatch.setenv("YUQING_ES_URL", "http://127.0.0.1:9")
    assert es_node.shared_node_url() == "http://127.0.0.1:9"
    monkeypatch.delenv("YUQING_ES_URL")
    monkeypatch.setenv("YUQING_ES_UNAVAILABLE", "mvn dependency:get failed")
    with pytest.raises(NodeUnavailable, match="mvn dependency:get failed"):
        es_node.shared_node_url()


def test_tests_skip_without_a_node_but_fail_when_it_is_required(tmp_path: Path):
    test = tmp_path / "test_needs_es.py"
    test.write_text("from tests.support.es_node import url_for_tests\n\ndef test_it():\n    url_for_tests()\n",
                    encoding="utf-8")
    env = {"YUQING_ES_UNAVAILABLE": "no Java here", "PATH": "/usr/bin:/bin"}
    root = Path(__file__).resolve().parents[3]

    def run(**extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(test)],
                              capture_output=True, text=True, cwd=root, env={**env, **extra}, check=False)

    skipped = run()
    assert skipped.returncode == 0 and "no Java here" in skipped.stdout and "1 skipped" in skipped.stdout
    required = run(YUQING_REQUIRE_ES="1")
    assert required.returncode == 1 and "YUQING_REQUIRE_ES=1" in required.stdout


def test_command_line_of_a_node(monkeypatch, tmp_path: Path):
    monkeypatch.setattr(es_node, "ensure_user", lambda name=es_node.ES_USER: None)
    monkeypatch.setattr(es_node, "java_home", lambda: Path("/opt/jdk"))
    node = es_node.TestNode(tmp_path / "es", workdir=tmp_path / "node", port=0)
    args = node.command()
    settings = dict(a.split("=", 1) for a in args[2::2])
    assert args[0].endswith("bin/elasticsearch")
    assert settings["discovery.type"] == "single-node" and settings["network.host"] == "127.0.0.1"
    assert settings["cluster.routing.allocation.disk.threshold_enabled"] == "false"
    assert settings["xpack.security.enabled"] == "false" and settings["node.portsfile"] == "true"
    env = node.environment()
    assert env["ES_JAVA_HOME"] == "/opt/jdk" and "-Xms512m -Xmx512m" in env["ES_JAVA_OPTS"]

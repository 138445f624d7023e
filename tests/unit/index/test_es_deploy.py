"""docs/deploy/: the docker compose reference runs ES 8 and Kibana 8 with security on, secrets only from the
environment, and the app on the Elasticsearch store (Docker itself is not run here)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from yuqing.config import load_settings

DEPLOY = Path(__file__).resolve().parents[3] / "docs" / "deploy"


@pytest.fixture(scope="module")
def services() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))["services"]


def test_stack_is_elasticsearch_and_kibana_8_with_security_on(services):
    assert {"es01", "kibana", "app"} <= set(services)
    for name in ("es01", "kibana"):
        assert re.search(r":\$\{STACK_VERSION:-8\.\d+\.\d+\}$", services[name]["image"]), services[name]["image"]
    es = services["es01"]["environment"]
    assert es["xpack.security.enabled"] == "true" and es["xpack.security.http.ssl.enabled"] == "true"
    assert services["kibana"]["environment"]["ELASTICSEARCH_HOSTS"].startswith("https://")
    assert services["app"]["depends_on"]["es01"]["condition"] == "service_healthy"
    assert "kibana" in services["kibana-setup"]["command"] and "import" in services["kibana-setup"]["command"]


def test_secrets_come_from_the_environment(services):
    for name, service in services.items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|KEY|SECRET", key):     # upper case: secrets, not e.g. ssl.key paths
                assert str(value).startswith("${"), f"{name}.{key} must come from the environment"
    example = (DEPLOY / "env.example").read_text(encoding="utf-8")
    assert re.search(r"^ELASTIC_PASSWORD=$", example, re.M) and re.search(r"^KIBANA_PASSWORD=$", example, re.M)


def test_app_config_uses_elasticsearch_with_tls_and_env_credentials(monkeypatch):
    monkeypatch.setenv("YUQING_ES_HOSTS", "https://es01:9200,https://es02:9200")
    settings = load_settings(DEPLOY / "app.yaml")
    es = settings.app.store
    assert es.backend == "elasticsearch"
    assert es.elasticsearch.hosts == ["https://es01:9200", "https://es02:9200"]
    assert es.elasticsearch.ca_certs == "/certs/ca/ca.crt"
    assert es.elasticsearch.password_env and not es.elasticsearch.api_key_env
    assert settings.sources.sources, "the shared ../../configs files are found from docs/deploy/"

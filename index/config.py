"""The store's configuration models (app.yaml `store:`), owned by the index package."""
from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from .configbase import StrictModel, expand_env
from .plugins import Registry

# Store backends by name (`store.backend`); any other value with a dot is a class path.
STORE_BACKENDS: Registry = Registry("store backend", "index.store:Store", {
    "sqlite": "index.sqlite.store:SQLiteStore",
    "elasticsearch": "index.elasticsearch.store:ElasticsearchStore",
})


class SqliteSettings(StrictModel):
    path: str = "var/yuqing.db"


class ElasticsearchSettings(StrictModel):
    """Connection and index settings. Secrets never live in YAML: name the environment variables."""
    hosts: list[str] = Field(default_factory=lambda: ["http://127.0.0.1:9200"],
                             description="one or more node URLs; a comma-separated string and ${VAR} work too")
    index_prefix: str = Field(default="yuqing", pattern=r"^[a-z0-9][a-z0-9_\-]*$",
                              description="indices are PREFIX-posts-YYYY.MM (alias PREFIX-posts), PREFIX-alerts, …")
    api_key_env: str | None = Field(default=None, description="environment variable holding an API key")
    username: str | None = Field(default=None, description="basic-auth user (or username_env)")
    username_env: str | None = None
    password_env: str | None = None
    ca_certs: str | None = Field(default=None, description="PEM file of the CA that signed the cluster's certificate")
    verify_certs: bool = True
    request_timeout_s: float = Field(default=30.0, gt=0)
    max_retries: int = Field(default=5, ge=0, description="bulk retries (with backoff) on 429 and 5xx")
    number_of_shards: int = Field(default=1, ge=1)
    number_of_replicas: int = Field(default=1, ge=0)
    spool_dir: str = "var/spool"

    @field_validator("hosts", mode="before")
    @classmethod
    def _hosts(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            return value
        hosts = list(dict.fromkeys(h.strip().rstrip("/") for item in value
                                   for h in expand_env(str(item)).split(",") if h.strip()))
        if not hosts:
            raise ValueError("give at least one Elasticsearch host")
        for host in hosts:
            if not host.startswith(("http://", "https://")):
                raise ValueError(f"{host!r} is not an http(s) URL")
        return hosts

    @model_validator(mode="after")
    def _one_auth(self) -> "ElasticsearchSettings":
        basic = self.username is not None or self.username_env is not None
        if self.api_key_env and basic:
            raise ValueError("give either api_key_env or basic auth (username/username_env + password_env), not both")
        if self.username is not None and self.username_env is not None:
            raise ValueError("give username or username_env, not both")
        if basic != (self.password_env is not None):
            raise ValueError("basic auth needs both a user (username or username_env) and password_env")
        return self


class StoreSettings(StrictModel):
    backend: str = Field(default="sqlite", description="sqlite, elasticsearch, or the class path of a Store "
                                                       "with a from_settings(settings, base_dir=, user_dicts=, timezone=, segmenter=)")
    sqlite: SqliteSettings = Field(default_factory=SqliteSettings)
    elasticsearch: ElasticsearchSettings = Field(default_factory=ElasticsearchSettings)

    @field_validator("backend")
    @classmethod
    def _backend(cls, value: str) -> str:
        return STORE_BACKENDS.check_name(value, "mypackage.store.MyStore")

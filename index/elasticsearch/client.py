"""The Elasticsearch client from settings, and client errors as store errors.

Hosts may be several; credentials are an API key or basic auth read from the
environment variables the settings name; a CA file verifies the cluster's TLS
certificate.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..store import StoreError, StoreUnavailable

if TYPE_CHECKING:  # pragma: no cover
    from elasticsearch import Elasticsearch

    from ..config import ElasticsearchSettings

logger = logging.getLogger(__name__)

RETRY_STATUSES = (429, 500, 502, 503, 504)


@dataclass(frozen=True)
class ConnectionSettings:
    """What the client needs; secrets already read from the environment."""
    hosts: Sequence[str] = ("http://127.0.0.1:9200",)
    api_key: str | None = None
    basic_auth: tuple[str, str] | None = None
    ca_certs: str | None = None
    verify_certs: bool = True
    request_timeout_s: float = 30.0
    transport_retries: int = 2

    def __repr__(self) -> str:   # never print secrets
        auth = "api_key" if self.api_key else ("basic" if self.basic_auth else "none")
        return f"ConnectionSettings(hosts={list(self.hosts)!r}, auth={auth}, ca_certs={self.ca_certs!r})"

    @classmethod
    def from_settings(cls, es: "ElasticsearchSettings", base_dir: Path | None = None) -> "ConnectionSettings":
        def secret(var: str) -> str:
            value = os.environ.get(var)
            if not value:
                raise StoreError(f"environment variable {var} (named in store.elasticsearch) is not set")
            return value

        api_key = secret(es.api_key_env) if es.api_key_env else None
        basic = None
        if es.password_env:
            user = es.username if es.username is not None else secret(es.username_env or "")
            basic = (user, secret(es.password_env))
        ca = None
        if es.ca_certs:
            path = Path(os.path.expandvars(es.ca_certs)).expanduser()
            if not path.is_absolute() and base_dir is not None:
                path = base_dir / path
            if not path.is_file():
                raise StoreError(f"store.elasticsearch.ca_certs: CA file {path} not found")
            ca = str(path)
        return cls(hosts=tuple(es.hosts), api_key=api_key, basic_auth=basic, ca_certs=ca,
                   verify_certs=es.verify_certs, request_timeout_s=es.request_timeout_s)


def build_client(conn: ConnectionSettings) -> "Elasticsearch":
    try:
        from elasticsearch import Elasticsearch
    except ImportError as exc:  # pragma: no cover - the es extra is missing
        raise StoreError("the Elasticsearch backend needs the client: pip install 'yuqing-sentinel[es]'") from exc
    options: dict[str, Any] = {
        "request_timeout": conn.request_timeout_s,
        "max_retries": conn.transport_retries,
        "retry_on_timeout": True,
        "retry_on_status": (502, 503, 504),
    }
    try:   # orjson (the es extra) encodes bulk bodies several times faster than the json module
        from elasticsearch.serializer import OrjsonSerializer
        options["serializers"] = {"application/json": OrjsonSerializer()}
    except ImportError:  # pragma: no cover - orjson not installed
        pass
    if conn.api_key:
        options["api_key"] = conn.api_key
    if conn.basic_auth:
        options["basic_auth"] = conn.basic_auth
    if conn.ca_certs:
        options["ca_certs"] = conn.ca_certs
    if not conn.verify_certs:
        options["verify_certs"] = False
        options["ssl_show_warn"] = False
    return Elasticsearch(list(dict.fromkeys(conn.hosts)), **options)


def describe(exc: BaseException) -> str:
    """A one-line reason from a client error: the Elasticsearch error type and reason when known."""
    info = getattr(exc, "info", None) or getattr(exc, "body", None)
    if isinstance(info, dict):
        error = info.get("error")
        if isinstance(error, dict):
            cause = (error.get("root_cause") or [error])[0]
            return f"{cause.get('type', error.get('type'))}: {cause.get('reason', error.get('reason'))}"
        if error:
            return str(error)
    message = getattr(exc, "message", None)
    return str(message or exc)[:500]


@contextmanager
def translated(operation: str, where: str) -> Iterator[None]:
    """Client errors → StoreUnavailable (try later) or StoreError (a real failure)."""
    from elasticsearch import ApiError, AuthenticationException, AuthorizationException, TransportError
    from elasticsearch import ConnectionError as EsConnectionError
    try:
        yield
    except (AuthenticationException, AuthorizationException) as exc:
        raise StoreError(f"{operation} on {where}: access denied ({describe(exc)}); "
                         "check the API key or user in store.elasticsearch") from exc
    except ApiError as exc:
        if exc.status_code in RETRY_STATUSES:
            raise StoreUnavailable(f"{operation} on {where}: Elasticsearch busy or unavailable "
                                   f"(HTTP {exc.status_code}, {describe(exc)})") from exc
        raise StoreError(f"{operation} on {where} failed: HTTP {exc.status_code}, {describe(exc)}") from exc
    except (EsConnectionError, TransportError) as exc:
        raise StoreUnavailable(f"{operation} on {where}: Elasticsearch unreachable ({describe(exc)})") from exc

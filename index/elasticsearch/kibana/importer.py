"""Kibana's saved-objects import API: POST {url}[/s/{space}]/api/saved_objects/_import.

The NDJSON goes as the multipart field `file`; `kbn-xsrf` is required by Kibana for
any write. Authentication: an API key (`Authorization: ApiKey …`) or basic auth.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)


class KibanaImportError(RuntimeError):
    """The import did not happen or not completely; the message says why."""


@dataclass
class ImportResult:
    success_count: int
    errors: list[str] = field(default_factory=list)     # "type/id: reason" per failed object

    @property
    def ok(self) -> bool:
        return not self.errors


def describe_error(item: dict[str, Any]) -> str:
    error = item.get("error") or {}
    reason = error.get("type", "error")
    if error.get("references"):
        missing = ", ".join(f"{r.get('type')}/{r.get('id')}" for r in error["references"])
        reason += f" (missing: {missing})"
    elif error.get("message"):
        reason += f" ({error['message']})"
    return f"{item.get('type')}/{item.get('id')}: {reason}"


class KibanaImporter:
    def __init__(self, url: str, *, space: str | None = None, api_key: str | None = None,
                 basic_auth: tuple[str, str] | None = None, ca_certs: str | None = None, verify: bool = True,
                 timeout_s: float = 60.0):
        if api_key and basic_auth:
            raise ValueError("give an API key or basic auth, not both")
        self.url = url.rstrip("/")
        self.space = space
        self.api_key = api_key
        self.basic_auth = basic_auth
        self.verify: bool | str = ca_certs if (ca_certs and verify) else verify
        self.timeout_s = timeout_s

    @property
    def endpoint(self) -> str:
        space = f"/s/{self.space}" if self.space and self.space != "default" else ""
        return f"{self.url}{space}/api/saved_objects/_import"

    def import_ndjson(self, ndjson: str, *, overwrite: bool = True, filename: str = "yuqing.ndjson") -> ImportResult:
        import httpx

        headers = {"kbn-xsrf": "true"}
        if self.api_key:
            headers["Authorization"] = f"ApiKey {self.api_key}"
        try:
            resp = httpx.post(self.endpoint, params={"overwrite": str(overwrite).lower()}, headers=headers,
                              files={"file": (filename, ndjson.encode("utf-8"), "application/ndjson")},
                              auth=self.basic_auth, verify=self.verify, timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            raise KibanaImportError(f"cannot reach Kibana at {self.endpoint}: {exc}") from exc
        if resp.status_code in (401, 403):
            raise KibanaImportError(f"Kibana refused the credentials (HTTP {resp.status_code}); "
                                    "give an API key or a user allowed to manage saved objects")
        try:
            body = resp.json()
        except ValueError:
            body = {}
        if resp.status_code >= 400:
            message = body.get("message") or resp.text[:300]
            raise KibanaImportError(f"Kibana import failed: HTTP {resp.status_code}: {message}")
        result = ImportResult(int(body.get("successCount", 0)), [describe_error(e) for e in body.get("errors", [])])
        if not body.get("success", not result.errors) and not result.errors:
            result.errors.append("Kibana reported success: false without details")
        logger.info("kibana saved objects imported", extra={"endpoint": self.endpoint,
                                                             "imported": result.success_count,
                                                             "errors": len(result.errors)})
        return result

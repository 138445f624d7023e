"""Sign-in, sessions, CSRF, API tokens and rate limits for the workbench and the open API.

- Pages: a session cookie (`yq_session`: HttpOnly, SameSite=Lax, Secure over HTTPS — web.secure_cookies)
  naming a server-side session (yuqing.accounts), so logout, a new password and `users disable` end it
  at once. Every form carries the session's CSRF token, checked on every POST; a cross-site Origin is
  refused as well. The login form, before any session, uses a double-submit token.
- API: `Authorization: Bearer yq_…` tokens (yuqing tokens add), scopes read / act, a sliding one-minute
  window per token (429 with Retry-After).
"""
from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..accounts import Accounts, Session, Token
from .views import Principal

BEARER = HTTPBearer(auto_error=False, scheme_name="token",
                    description="an API token from `yuqing tokens add NAME --agency ID --scopes read,act`")
SESSION_COOKIE = "yq_session"
LOGIN_COOKIE = "yq_login"


def secure(request: Request, mode: str) -> bool:
    return mode == "always" or (mode == "auto" and request.url.scheme == "https")


def same_origin(request: Request) -> bool:
    """False when the browser says the request came from another site (Origin or Referer)."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin != "null"
    parts = urlsplit(origin)
    return parts.netloc == request.headers.get("host", request.url.netloc)


def principal_of_session(session: Session) -> Principal:
    user = session.user
    return Principal(user.name, user.role, user.agency)


def principal_of_token(token: Token) -> Principal:
    return Principal(token.principal, token.role, token.agency, scopes=token.scopes, via_token=True)


class PageAuth:
    def __init__(self, accounts: Accounts):
        self.accounts = accounts

    def session(self, request: Request) -> Session | None:
        return self.accounts.session(request.cookies.get(SESSION_COOKIE))

    @staticmethod
    def check_csrf(request: Request, session: Session | None, presented: str | None) -> None:
        if not same_origin(request):
            raise HTTPException(403, "cross-site request refused")
        expected = session.csrf if session else request.cookies.get(LOGIN_COOKIE)
        if not expected or not presented or not hmac.compare_digest(expected, presented):
            raise HTTPException(403, "the form's security token is missing or stale; reload the page and try again")

    @staticmethod
    def login_token() -> str:
        return secrets.token_urlsafe(24)


class RateLimiter:
    """At most `limit` requests in any sliding minute per key (in this process)."""

    def __init__(self, window_s: float = 60.0):
        self.window_s = window_s
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str, limit: int, now: float | None = None) -> float:
        """0 when allowed (and counted); else the seconds until the next request would be."""
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window_s:
                hits.popleft()
            if len(hits) >= limit:
                return max(0.001, hits[0] + self.window_s - now)
            hits.append(now)
            return 0.0


class ApiAuth:
    def __init__(self, accounts: Accounts, limiter: RateLimiter | None = None):
        self.accounts = accounts
        self.limiter = limiter or RateLimiter()

    def __call__(self, credentials: HTTPAuthorizationCredentials | None = Depends(BEARER)) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials.strip():
            raise HTTPException(401, "an API token is needed: Authorization: Bearer yq_…",
                                headers={"WWW-Authenticate": "Bearer"})
        token = self.accounts.verify_token(credentials.credentials.strip())
        if token is None:
            raise HTTPException(401, "the API token is unknown, revoked or expired",
                                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        wait = self.limiter.check(token.id, token.rate_per_minute)
        if wait:
            raise HTTPException(429, f"rate limit of {token.rate_per_minute} requests a minute reached",
                                headers={"Retry-After": str(int(wait) + 1)})
        if "read" not in token.scopes:
            raise HTTPException(403, "this token lacks the read scope")
        return principal_of_token(token)

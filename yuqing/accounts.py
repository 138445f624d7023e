"""Workbench accounts, sessions and API tokens: one small SQLite file (web.accounts_db, under data_dir).

Kept apart from the post store so it works the same with SQLite or Elasticsearch and never travels
with an index snapshot. Passwords are hashed with argon2id (argon2-cffi); session ids and API token
secrets are stored only as SHA-256 digests, so a copy of the file lets no one in.

Roles: `admin` (sees everything unmasked, acts on every alert, manages accounts), `analyst` (sees
every alert, acts only where assigned), `agency` (sees and acts on the alerts of its agency and the
agencies below it, as warning.lifecycle.Directory decides). An account counts in the alert
directory as warning.lifecycle.Person, so the CLI, the pages and the API apply one rule.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROLES = ("admin", "analyst", "agency")
SCOPES = ("read", "act")
MIN_PASSWORD = 10
TOKEN_PREFIX = "yq_"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
  name TEXT PRIMARY KEY, role TEXT NOT NULL, agency TEXT, password TEXT NOT NULL,
  disabled INTEGER NOT NULL DEFAULT 0, failed INTEGER NOT NULL DEFAULT 0, locked_until REAL,
  created_at REAL NOT NULL, changed_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY, user TEXT NOT NULL, csrf TEXT NOT NULL, created_at REAL NOT NULL,
  expires_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions(user);
CREATE TABLE IF NOT EXISTS tokens (
  id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, secret TEXT NOT NULL, agency TEXT, scopes TEXT NOT NULL,
  rate_per_minute INTEGER NOT NULL, created_at REAL NOT NULL, expires_at REAL, revoked_at REAL,
  last_used REAL);
"""


class AccountError(ValueError):
    """A refused account operation; the message says why."""


class LoginRefused(AccountError):
    """Wrong name or password, a disabled account, or a locked one (`locked_for` seconds left)."""

    def __init__(self, message: str, locked_for: float = 0.0):
        super().__init__(message)
        self.locked_for = locked_for


@dataclass(frozen=True)
class User:
    name: str
    role: str
    agency: str | None
    disabled: bool = False
    failed: int = 0
    locked_until: float | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class Session:
    id: str          # the cookie value (never stored; its digest is)
    user: User
    csrf: str
    expires_at: float


@dataclass(frozen=True)
class Token:
    id: str
    name: str
    agency: str | None
    scopes: tuple[str, ...]
    rate_per_minute: int
    created_at: float
    expires_at: float | None = None
    revoked_at: float | None = None
    last_used: float | None = None

    @property
    def principal(self) -> str:
        """The name its actions are recorded under in an alert's history."""
        return f"api:{self.name}"

    @property
    def role(self) -> str:
        return "agency" if self.agency else "analyst"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _hasher():
    from argon2 import PasswordHasher
    return PasswordHasher()


class Accounts:
    """The accounts file. Thread-safe (one connection per call); `known_agencies` validates --agency."""

    def __init__(self, path: str | Path, known_agencies: set[str] | None = None):
        self.path = Path(path)
        self.known_agencies = known_agencies
        self._init_lock = threading.Lock()
        self._ready = False
        self._dummy_hash: str | None = None

    # --- plumbing ------------------------------------------------------------
    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        if not self._ready:
            with self._init_lock:
                if not self._ready:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    # created 0600 before SQLite opens it: its -wal and -shm files take the same mode
                    os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
                    conn = sqlite3.connect(self.path, timeout=30)
                    try:
                        conn.execute("PRAGMA journal_mode = WAL")
                        conn.executescript(_SCHEMA)
                    finally:
                        conn.close()
                    try:
                        self.path.chmod(0o600)
                    except OSError:
                        pass
                    self._ready = True
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.row_factory = sqlite3.Row
        try:
            yield conn
        finally:
            conn.close()

    @staticmethod
    def _user(row: sqlite3.Row) -> User:
        return User(row["name"], row["role"], row["agency"], bool(row["disabled"]), row["failed"],
                    row["locked_until"])

    def _check_role(self, role: str, agency: str | None) -> None:
        if role not in ROLES:
            raise AccountError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
        if role == "agency" and not agency:
            raise AccountError("an agency account needs --agency ID (the agency in agencies.yaml it belongs to)")
        if role != "agency" and agency:
            raise AccountError(f"--agency is only for agency accounts; a {role} sees every agency")
        if agency and self.known_agencies is not None and agency not in self.known_agencies:
            raise AccountError(f"unknown agency {agency!r}; agencies.yaml has {', '.join(sorted(self.known_agencies))}")

    @staticmethod
    def check_password(password: str) -> None:
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"password too short: at least {MIN_PASSWORD} characters")
        if password.strip() != password or "\n" in password:
            raise AccountError("password must not start or end with spaces or hold a line break")

    # --- users ---------------------------------------------------------------
    def add_user(self, name: str, role: str, password: str, agency: str | None = None) -> User:
        if not name or not all(c.isalnum() or c in "_-." for c in name) or name.startswith("api:"):
            raise AccountError(f"user name {name!r}: letters, digits, '_', '-', '.' only")
        if name == "system":
            raise AccountError("'system' is the name the warning evaluation acts under")
        self._check_role(role, agency)
        self.check_password(password)
        now = time.time()
        with self._db() as db:
            try:
                db.execute("INSERT INTO users (name, role, agency, password, created_at, changed_at) "
                           "VALUES (?, ?, ?, ?, ?, ?)", (name, role, agency, _hasher().hash(password), now, now))
            except sqlite3.IntegrityError:
                raise AccountError(f"user {name!r} exists; use `yuqing users passwd {name}`") from None
        return User(name, role, agency)

    def get_user(self, name: str) -> User | None:
        with self._db() as db:
            row = db.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
        return self._user(row) if row else None

    def users(self) -> list[User]:
        with self._db() as db:
            return [self._user(r) for r in db.execute("SELECT * FROM users ORDER BY name")]

    def set_password(self, name: str, password: str) -> None:
        self.check_password(password)
        with self._db() as db:
            cur = db.execute("UPDATE users SET password = ?, changed_at = ?, failed = 0, locked_until = NULL "
                             "WHERE name = ?", (_hasher().hash(password), time.time(), name))
            if not cur.rowcount:
                raise AccountError(f"no user {name!r}")
            db.execute("DELETE FROM sessions WHERE user = ?", (name,))   # a new password ends every session

    def set_disabled(self, name: str, disabled: bool = True) -> None:
        with self._db() as db:
            cur = db.execute("UPDATE users SET disabled = ?, failed = 0, locked_until = NULL WHERE name = ?",
                             (int(disabled), name))
            if not cur.rowcount:
                raise AccountError(f"no user {name!r}")
            if disabled:
                db.execute("DELETE FROM sessions WHERE user = ?", (name,))

    def authenticate(self, name: str, password: str, *, max_failures: int = 5,
                     lockout_s: float = 900.0, now: float | None = None) -> User:
        """The user, or LoginRefused. `max_failures` wrong passwords in a row lock the account for
        `lockout_s`; a locked account refuses even the right password until then."""
        from argon2.exceptions import InvalidHashError, VerificationError
        now = time.time() if now is None else now
        hasher = _hasher()
        with self._db() as db:
            row = db.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
            if row is None:
                if self._dummy_hash is None:
                    self._dummy_hash = hasher.hash(secrets.token_hex(8))
                try:   # the same work as a real check, so timing does not tell which names exist
                    hasher.verify(self._dummy_hash, password)
                except VerificationError:
                    pass
                raise LoginRefused("wrong user name or password")
            if row["locked_until"] and row["locked_until"] > now:
                raise LoginRefused("account locked after repeated failures; try again later",
                                   locked_for=row["locked_until"] - now)
            if row["locked_until"]:         # a lock that has run out starts the count again
                db.execute("UPDATE users SET failed = 0, locked_until = NULL WHERE name = ? AND locked_until <= ?",
                           (name, now))
            try:
                hasher.verify(row["password"], password)
            except (VerificationError, InvalidHashError):
                # one statement counts and locks, so guesses sent in parallel each count
                failed, locked = db.execute(
                    "UPDATE users SET failed = failed + 1, locked_until = CASE WHEN failed + 1 >= ? THEN ? "
                    "ELSE locked_until END WHERE name = ? RETURNING failed, locked_until",
                    (max_failures, now + lockout_s, name)).fetchone()
                if locked and locked > now:
                    raise LoginRefused("account locked after repeated failures; try again later",
                                       locked_for=locked - now) from None
                raise LoginRefused("wrong user name or password") from None
            locked = db.execute("SELECT locked_until FROM users WHERE name = ?", (name,)).fetchone()[0]
            if locked and locked > now:     # a guess in parallel with this one locked the account meanwhile
                raise LoginRefused("account locked after repeated failures; try again later", locked_for=locked - now)
            if row["disabled"]:
                raise LoginRefused("account disabled")
            if row["failed"] or row["locked_until"]:
                db.execute("UPDATE users SET failed = 0, locked_until = NULL WHERE name = ?", (name,))
            if hasher.check_needs_rehash(row["password"]):
                db.execute("UPDATE users SET password = ? WHERE name = ?", (hasher.hash(password), name))
        return self._user(row)

    # --- sessions ------------------------------------------------------------
    def start_session(self, user: User, lifetime_s: float, now: float | None = None) -> Session:
        now = time.time() if now is None else now
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self._db() as db:
            db.execute("DELETE FROM sessions WHERE expires_at < ?", (now,))
            db.execute("INSERT INTO sessions (id, user, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                       (_digest(sid), user.name, csrf, now, now + lifetime_s))
        return Session(sid, user, csrf, now + lifetime_s)

    def session(self, sid: str | None, now: float | None = None) -> Session | None:
        """The live session of this cookie value, or None (unknown, expired, or its user disabled)."""
        if not sid:
            return None
        now = time.time() if now is None else now
        with self._db() as db:
            row = db.execute("SELECT s.csrf, s.expires_at, u.* FROM sessions s JOIN users u ON u.name = s.user "
                             "WHERE s.id = ?", (_digest(sid),)).fetchone()
        if row is None or row["expires_at"] < now or row["disabled"]:
            return None
        return Session(sid, self._user(row), row["csrf"], row["expires_at"])

    def end_session(self, sid: str) -> None:
        with self._db() as db:
            db.execute("DELETE FROM sessions WHERE id = ?", (_digest(sid),))

    # --- API tokens ----------------------------------------------------------
    def add_token(self, name: str, *, agency: str | None = None, scopes: tuple[str, ...] = ("read",),
                  rate_per_minute: int = 60, expires_days: float | None = None) -> tuple[Token, str]:
        """A new token and its secret (shown once: only its digest is kept)."""
        if not name or not all(c.isalnum() or c in "_-." for c in name):
            raise AccountError(f"token name {name!r}: letters, digits, '_', '-', '.' only")
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown or not scopes:
            raise AccountError(f"scopes {', '.join(unknown) or '(none)'}: use read and/or act")
        if "act" in scopes and not agency:
            raise AccountError("a token with the act scope belongs to an agency (--agency ID)")
        if agency and self.known_agencies is not None and agency not in self.known_agencies:
            raise AccountError(f"unknown agency {agency!r}; agencies.yaml has {', '.join(sorted(self.known_agencies))}")
        if rate_per_minute < 1:
            raise AccountError("rate limit must be at least 1 request a minute")
        now = time.time()
        tid, secret = secrets.token_hex(4), secrets.token_urlsafe(32)
        token = Token(tid, name, agency, tuple(s for s in SCOPES if s in scopes), rate_per_minute, now,
                      now + expires_days * 86400 if expires_days else None)
        with self._db() as db:
            try:
                db.execute("INSERT INTO tokens (id, name, secret, agency, scopes, rate_per_minute, created_at, "
                           "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           (tid, name, _digest(secret), agency, ",".join(token.scopes), rate_per_minute, now,
                            token.expires_at))
            except sqlite3.IntegrityError:
                raise AccountError(f"token {name!r} exists; revoke it first") from None
        return token, f"{TOKEN_PREFIX}{tid}_{secret}"

    @staticmethod
    def _token(row: sqlite3.Row) -> Token:
        return Token(row["id"], row["name"], row["agency"], tuple(filter(None, row["scopes"].split(","))),
                     row["rate_per_minute"], row["created_at"], row["expires_at"], row["revoked_at"],
                     row["last_used"])

    def tokens(self) -> list[Token]:
        with self._db() as db:
            return [self._token(r) for r in db.execute("SELECT * FROM tokens ORDER BY created_at")]

    def revoke_token(self, name: str) -> None:
        with self._db() as db:
            cur = db.execute("UPDATE tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                             (time.time(), name))
            if not cur.rowcount:
                raise AccountError(f"no active token {name!r}")

    def verify_token(self, presented: str, now: float | None = None) -> Token | None:
        """The live token a bearer string names, or None (malformed, unknown, revoked, expired)."""
        now = time.time() if now is None else now
        if not presented.startswith(TOKEN_PREFIX) or presented.count("_") < 2:
            return None
        tid, _, secret = presented[len(TOKEN_PREFIX):].partition("_")
        with self._db() as db:
            row = db.execute("SELECT * FROM tokens WHERE id = ?", (tid,)).fetchone()
            if row is None or not hmac.compare_digest(row["secret"], _digest(secret)):
                return None
            if row["revoked_at"] or (row["expires_at"] and row["expires_at"] < now):
                return None
            if not row["last_used"] or now - row["last_used"] > 60:
                db.execute("UPDATE tokens SET last_used = ? WHERE id = ?", (now, tid))
        return self._token(row)

    # --- the alert directory -------------------------------------------------
    def people(self):
        """Enabled accounts as warning.lifecycle.Person, for the alert directory."""
        from warning.lifecycle import Person
        return [Person(u.name, u.role, u.agency) for u in self.users() if not u.disabled]


__all__ = ["ROLES", "SCOPES", "AccountError", "Accounts", "LoginRefused", "Session", "Token", "User"]

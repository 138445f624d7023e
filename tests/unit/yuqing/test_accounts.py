"""yuqing.accounts: argon2 passwords, lockout, sessions ended by logout / new password / disable, tokens."""
from __future__ import annotations

import sqlite3

import pytest

from yuqing.accounts import AccountError, Accounts, LoginRefused
from yuqing.cli import main


@pytest.fixture
def accounts(tmp_path):
    return Accounts(tmp_path / "accounts.db", known_agencies={"eco_env", "housing"})


def test_passwords_are_stored_as_argon2_hashes_only(accounts):
    accounts.add_user("chen", "agency", "long-enough-pw", agency="eco_env")
    row = sqlite3.connect(accounts.path).execute("SELECT password FROM users").fetchone()[0]
    assert row.startswith("$argon2id$") and "long-enough-pw" not in row
    assert accounts.authenticate("chen", "long-enough-pw").agency == "eco_env"


@pytest.mark.parametrize("role, agency, password, message", [
    ("agency", None, "long-enough-pw", "needs --agency"),
    ("agency", "nowhere", "long-enough-pw", "unknown agency"),
    ("analyst", "eco_env", "long-enough-pw", "only for agency accounts"),
    ("boss", None, "long-enough-pw", "unknown role"),
    ("admin", None, "short", "too short"),
])
def test_bad_accounts_are_refused_with_the_reason(accounts, role, agency, password, message):
    with pytest.raises(AccountError, match=message):
        accounts.add_user("x", role, password, agency=agency)


def test_lockout_after_repeated_failures_then_unlocks(accounts):
    accounts.add_user("chen", "admin", "long-enough-pw")
    for _ in range(2):
        with pytest.raises(LoginRefused, match="wrong"):
            accounts.authenticate("chen", "bad", max_failures=3, lockout_s=60, now=1000)
    with pytest.raises(LoginRefused, match="locked"):
        accounts.authenticate("chen", "bad", max_failures=3, lockout_s=60, now=1000)
    with pytest.raises(LoginRefused, match="locked"):
        accounts.authenticate("chen", "long-enough-pw", max_failures=3, lockout_s=60, now=1030)
    assert accounts.authenticate("chen", "long-enough-pw", max_failures=3, lockout_s=60, now=1061).name == "chen"


def test_guesses_in_parallel_each_count_toward_the_lockout(accounts):
    from concurrent.futures import ThreadPoolExecutor
    accounts.add_user("chen", "admin", "long-enough-pw")

    def guess(i):
        try:
            accounts.authenticate("chen", f"bad-{i}", max_failures=3, lockout_s=600, now=1000)
        except LoginRefused as exc:
            return str(exc)
    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(guess, range(32)))
    assert sum("locked" in o for o in outcomes) >= 32 - 3
    with pytest.raises(LoginRefused, match="locked"):
        accounts.authenticate("chen", "long-enough-pw", max_failures=3, lockout_s=600, now=1010)


def test_sessions_end_on_logout_new_password_and_disable(accounts):
    user = accounts.add_user("chen", "admin", "long-enough-pw")
    s1, s2 = accounts.start_session(user, 3600), accounts.start_session(user, 3600)
    assert accounts.session(s1.id).user.name == "chen"
    accounts.end_session(s1.id)
    assert accounts.session(s1.id) is None and accounts.session(s2.id) is not None
    accounts.set_password("chen", "another-long-pw")
    assert accounts.session(s2.id) is None
    s3 = accounts.start_session(user, 3600)
    accounts.set_disabled("chen")
    assert accounts.session(s3.id) is None
    with pytest.raises(LoginRefused, match="disabled"):
        accounts.authenticate("chen", "another-long-pw")
    assert accounts.session(accounts.start_session(user, -1).id) is None   # expired


def test_tokens_verify_until_revoked_and_only_their_digest_is_kept(accounts):
    token, secret = accounts.add_token("hub", agency="eco_env", scopes=("read", "act"))
    assert secret.split("_", 2)[2] not in sqlite3.connect(accounts.path).execute("SELECT secret FROM tokens").fetchone()[0]
    assert accounts.verify_token(secret).scopes == ("read", "act")
    assert accounts.verify_token(secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
    accounts.revoke_token("hub")
    assert accounts.verify_token(secret) is None
    with pytest.raises(AccountError, match="act scope belongs to an agency"):
        accounts.add_token("all", agency=None, scopes=("act",))


def test_users_cli_reads_the_password_from_stdin(tmp_path, monkeypatch, capsys):
    from tests.support.workbench import REPO, write_office
    monkeypatch.chdir(REPO)
    config = write_office(tmp_path)
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("a-fine-password\n"))
    assert main(["users", "add", "chen", "--role", "agency", "--agency", "eco_env", "--config", str(config)]) == 0
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("x\n"))
    assert main(["users", "add", "li", "--role", "admin", "--config", str(config)]) == 2
    assert "too short" in capsys.readouterr().err
    assert main(["users", "disable", "chen", "--config", str(config)]) == 0
    assert main(["users", "list", "--config", str(config)]) == 0
    assert "chen\tagency\teco_env\tdisabled" in capsys.readouterr().out
    assert main(["tokens", "add", "hub", "--agency", "eco_env", "--scopes", "read,act", "--config", str(config)]) == 0
    assert capsys.readouterr().out.startswith("yq_")
    assert main(["tokens", "revoke", "hub", "--config", str(config)]) == 0
    assert main(["tokens", "revoke", "hub", "--config", str(config)]) == 2

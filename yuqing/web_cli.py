"""`yuqing serve`, `yuqing users …`, `yuqing tokens …`: the workbench and its accounts from the command line.

Passwords are read from standard input (asked twice on a terminal, the first line otherwise), never
from the command line where `ps` and shell history would keep them.
"""
from __future__ import annotations

import argparse
import getpass
import sys
from datetime import datetime

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def _app(args: argparse.Namespace):
    from .config import load_settings
    from .jobs import App
    return App(load_settings(args.config))


def _password(prompt: str = "password: ") -> str:
    if sys.stdin.isatty():
        first = getpass.getpass(prompt)
        if getpass.getpass("again: ") != first:
            raise SystemExit("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def cmd_users(args: argparse.Namespace) -> int:
    from .accounts import AccountError
    accounts = _app(args).accounts
    try:
        if args.users_cmd == "add":
            user = accounts.add_user(args.name, args.role, _password(), agency=args.agency)
            print(f"user {user.name} added ({user.role}{' of ' + user.agency if user.agency else ''})")
        elif args.users_cmd == "passwd":
            accounts.set_password(args.name, _password("new password: "))
            print(f"password of {args.name} changed; its sessions ended")
        elif args.users_cmd in ("disable", "enable"):
            accounts.set_disabled(args.name, args.users_cmd == "disable")
            print(f"user {args.name} {args.users_cmd}d")
        else:
            for u in accounts.users():
                state = "disabled" if u.disabled else ("locked" if u.locked_until and u.locked_until > datetime.now().timestamp()
                                                        else "active")
                print(f"{u.name}\t{u.role}\t{u.agency or '-'}\t{state}")
    except AccountError as exc:
        print(f"users {args.users_cmd}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return EXIT_OK


def cmd_tokens(args: argparse.Namespace) -> int:
    from .accounts import AccountError
    accounts = _app(args).accounts
    try:
        if args.tokens_cmd == "add":
            scopes = tuple(s.strip() for s in args.scopes.split(",") if s.strip())
            token, secret = accounts.add_token(args.name, agency=args.agency, scopes=scopes,
                                               rate_per_minute=args.rate, expires_days=args.expires_days)
            print(secret)
            print(f"token {token.name} ({','.join(token.scopes)}, {token.agency or 'all agencies, read only'}, "
                  f"{token.rate_per_minute}/min): shown once, keep it safe", file=sys.stderr)
        elif args.tokens_cmd == "revoke":
            accounts.revoke_token(args.name)
            print(f"token {args.name} revoked")
        else:
            for t in accounts.tokens():
                state = "revoked" if t.revoked_at else "active"
                print(f"{t.name}\t{t.agency or '-'}\t{','.join(t.scopes)}\t{t.rate_per_minute}/min\t{state}")
    except AccountError as exc:
        print(f"tokens {args.tokens_cmd}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn
        from .web.app import create_app
    except ImportError as exc:
        print(f"serve: the workbench needs the web extra (pip install 'yuqing-sentinel[web]'): {exc}", file=sys.stderr)
        return EXIT_CONFIG
    app = _app(args)
    web = app.settings.app.web
    try:
        uvicorn.run(create_app(app), host=args.host or web.host, port=args.port or web.port, log_level="info",
                    proxy_headers=True, forwarded_allow_ips=web.forwarded_allow_ips, access_log=False)
    finally:
        app.close()
    return EXIT_OK


def register(sub, with_config) -> None:
    p = with_config(sub.add_parser("serve", help="serve the workbench and the open API (/api/v1, docs at /api/docs)"))
    p.add_argument("--host", default=None, help="address to listen on (default: app.yaml web.host)")
    p.add_argument("--port", type=int, default=None, help="port (default: app.yaml web.port)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("users", help="workbench accounts: add, passwd, disable, enable, list")
    usub = p.add_subparsers(dest="users_cmd", required=True)
    q = with_config(usub.add_parser("add", help="add an account; the password is read from standard input"))
    q.add_argument("name")
    q.add_argument("--role", required=True, choices=("admin", "analyst", "agency"))
    q.add_argument("--agency", default=None, help="for --role agency: the agency id in agencies.yaml")
    for name, help_ in (("passwd", "set a new password (read from standard input); ends its sessions"),
                        ("disable", "refuse the account's sign-in and end its sessions"), ("enable", "allow it again")):
        q = with_config(usub.add_parser(name, help=help_))
        q.add_argument("name")
    with_config(usub.add_parser("list", help="accounts, roles, agencies and state"))
    p.set_defaults(func=cmd_users)

    p = sub.add_parser("tokens", help="API tokens for other departments' systems: add, revoke, list")
    tsub = p.add_subparsers(dest="tokens_cmd", required=True)
    q = with_config(tsub.add_parser("add", help="make a token (printed once on standard output)"))
    q.add_argument("name")
    q.add_argument("--agency", default=None, help="the agency whose alerts it sees and acts on "
                                                  "(none: every alert, read only)")
    q.add_argument("--scopes", default="read", help="read and/or act, comma-separated (default: %(default)s)")
    q.add_argument("--rate", type=int, default=60, help="requests a minute (default: %(default)s)")
    q.add_argument("--expires-days", type=float, default=None, help="valid for this many days (default: until revoked)")
    q = with_config(tsub.add_parser("revoke", help="revoke a token at once"))
    q.add_argument("name")
    with_config(tsub.add_parser("list", help="tokens, agencies, scopes, limits and state"))
    p.set_defaults(func=cmd_tokens)

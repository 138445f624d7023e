"""Kibana: saved objects (yuqing.ndjson) and the `yuqing kibana import` command.

    yuqing kibana import --url http://kibana:5601 [--space S] [--index-prefix P]
    python -m index.elasticsearch.kibana build        regenerate yuqing.ndjson from index/elasticsearch/kibana/objects.py

Credentials come from the environment: YUQING_KIBANA_API_KEY (an encoded API key), or
YUQING_KIBANA_USERNAME / YUQING_KIBANA_PASSWORD; the variable names can be changed
with --api-key-env, --username-env and --password-env.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .importer import ImportResult, KibanaImporter, KibanaImportError
from .objects import NDJSON_PATH, load_ndjson, saved_objects, to_ndjson, with_prefix

__all__ = ["ImportResult", "KibanaImportError", "KibanaImporter", "NDJSON_PATH", "register"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `kibana` command group to an argparse subparsers object."""
    kibana = subparsers.add_parser("kibana", help="Kibana saved objects (data views, searches, dashboard)",
                                   description="Import the shipped Kibana saved objects.")
    commands = kibana.add_subparsers(dest="kibana_command", metavar="ACTION", required=True)
    imp = commands.add_parser("import", help="import data views, saved searches and the dashboard into Kibana",
                              description="POST the saved objects to Kibana's saved-objects import API "
                                          "(existing objects with the same ids are overwritten).")
    imp.add_argument("--url", required=True, help="Kibana base URL, e.g. http://127.0.0.1:5601")
    imp.add_argument("--space", default=None, help="Kibana space id (default: the default space)")
    imp.add_argument("--file", type=Path, default=NDJSON_PATH, help="NDJSON to import (default: %(default)s)")
    imp.add_argument("--index-prefix", default="yuqing",
                     help="store.elasticsearch.index_prefix the data views should point at (default: %(default)s)")
    imp.add_argument("--api-key-env", default="YUQING_KIBANA_API_KEY", help="variable holding an encoded API key")
    imp.add_argument("--username-env", default="YUQING_KIBANA_USERNAME")
    imp.add_argument("--password-env", default="YUQING_KIBANA_PASSWORD")
    imp.add_argument("--ca-certs", default=None, help="CA file that signed Kibana's TLS certificate")
    imp.add_argument("--insecure", action="store_true", help="do not verify Kibana's TLS certificate")
    imp.add_argument("--no-overwrite", action="store_true", help="keep objects that already exist")
    imp.set_defaults(func=cmd_import)
    return kibana


def cmd_import(args: argparse.Namespace) -> int:
    try:
        objects = with_prefix(load_ndjson(args.file), args.index_prefix)
    except (OSError, ValueError) as exc:
        print(f"cannot read {args.file}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    api_key = os.environ.get(args.api_key_env) or None
    user, password = os.environ.get(args.username_env), os.environ.get(args.password_env)
    if bool(user) != bool(password):
        print(f"basic auth needs both {args.username_env} and {args.password_env}", file=sys.stderr)
        return EXIT_USAGE
    basic = (user, password) if user and password and not api_key else None
    importer = KibanaImporter(args.url, space=args.space, api_key=api_key, basic_auth=basic,
                              ca_certs=args.ca_certs, verify=not args.insecure)
    try:
        result = importer.import_ndjson(to_ndjson(objects), overwrite=not args.no_overwrite)
    except KibanaImportError as exc:
        print(f"kibana import failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"imported {result.success_count} of {len(objects)} saved objects into {importer.endpoint}")
    for error in result.errors:
        print(f"  failed: {error}", file=sys.stderr)
    return EXIT_OK if result.ok else EXIT_FAILED


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m index.elasticsearch.kibana")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help=f"write {NDJSON_PATH.name} from index/elasticsearch/kibana/objects.py")
    build.add_argument("--out", type=Path, default=NDJSON_PATH)
    register(sub)
    args = parser.parse_args(argv)
    if args.command == "build":
        args.out.write_text(to_ndjson(saved_objects()), encoding="utf-8")
        print(args.out)
        return EXIT_OK
    return int(args.func(args))

"""Who is draining a batch: per-process claim folders under inbox_dir/claimed/.

A drainer claims a batch by renaming it into claimed/<host>-<pid>/; rename is
atomic within one file system, so of two processes racing for one file exactly
one wins and the other sees it gone. A claim folder whose owner is no longer
alive on this host is stale (the drainer was killed mid-batch) and its batches
go back to the inbox. Folders of other hosts are left alone: from here we cannot
tell whether their owner still runs. A recycled pid keeps a stale claim until
that unrelated process ends too; the batch is late, never lost.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path


def owner_name(pid: int | None = None, host: str | None = None) -> str:
    """This process's claim folder name, <host>-<pid>."""
    host = (host or socket.gethostname() or "localhost").replace(os.sep, "_")
    return f"{host}-{pid if pid is not None else os.getpid()}"


def parse_owner(name: str) -> tuple[str, int] | None:
    """(host, pid) of a claim folder name; None when the name is not one of ours."""
    host, sep, pid = name.rpartition("-")
    if not sep or not host or not pid.isdigit():
        return None
    return host, int(pid)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host (a zombie counts as gone)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # exists, owned by someone else
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[-1].split()[0]
        return state != b"Z"
    except (OSError, IndexError):
        return True


def stale_claim_dirs(claimed_root: Path) -> list[Path]:
    """Claim folders on this host whose owner process is gone."""
    here = socket.gethostname() or "localhost"
    stale = []
    for folder in sorted(p for p in claimed_root.iterdir() if p.is_dir()) if claimed_root.is_dir() else []:
        owner = parse_owner(folder.name)
        if owner is None or owner[0] != here.replace(os.sep, "_"):
            continue
        if owner[1] != os.getpid() and not pid_alive(owner[1]):
            stale.append(folder)
    return stale

"""A real single-node Elasticsearch for tests and local use, from Elastic's runnable test distribution.

    python -m tests.support.es_node fetch                 download (Maven Central → ~/.m2) and unpack
    python -m tests.support.es_node serve [--port 9200]   run a node in the foreground until Ctrl-C (`make es`)
    python -m tests.support.es_node run -- CMD ...        run CMD with a node up, YUQING_ES_URL set (`make test`)

The distribution is `org.elasticsearch.distribution.integ-test-zip:elasticsearch:<v>:zip`,
the newest 8.19.x listed in Maven Central's maven-metadata.xml, fetched with
`mvn dependency:get` into the Maven cache (~/.m2, outside the repository) and
unpacked with `unzip` (so bin/ stays executable) under YUQING_ES_BASE
(default /var/tmp/yuqing-es as root, else ~/.cache/yuqing/es). Elasticsearch
refuses to run as root, so as root the node runs as the system user
`yuqing-es`, created on first use. Each node gets its own folder (config copy,
data, logs, tmp) owned by that user, a 512 MB heap, single-node discovery on
127.0.0.1, security off and the disk watermarks off. Readiness is judged by
GET /_cluster/health (the zip may lack GET /).

The zip holds only the server core and the network module: no analysis-common,
painless, reindex, ingest pipelines or data streams. The store is designed
within that; production uses the full distribution (deploy/docker-compose.yml).
"""
from __future__ import annotations

import argparse
import atexit
import ctypes
import json
import logging
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

logger = logging.getLogger(__name__)

GROUP_PATH = "org/elasticsearch/distribution/integ-test-zip/elasticsearch"
ARTIFACT = "org.elasticsearch.distribution.integ-test-zip:elasticsearch:{version}:zip"
METADATA_URL = f"https://repo1.maven.org/maven2/{GROUP_PATH}/maven-metadata.xml"
DEFAULT_SERIES = "8.19"
ES_USER = "yuqing-es"
DEFAULT_HEAP = "512m"
MIN_JAVA = 17
START_TIMEOUT_S = 240.0


class NodeUnavailable(RuntimeError):
    """No test node can be had here; the message says what is missing."""


def _say(message: str) -> None:
    print(f"[es_node] {message}", file=sys.stderr, flush=True)


# --- the distribution ---------------------------------------------------------------------
def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version))


def newest_in_series(versions: Sequence[str], series: str = DEFAULT_SERIES) -> str | None:
    """The highest plain release 'SERIES.N' among versions (no snapshots or pre-releases)."""
    pattern = re.compile(rf"^{re.escape(series)}\.\d+$")
    matching = [v for v in versions if pattern.match(v)]
    return max(matching, key=_version_key) if matching else None


def versions_from_metadata(xml_text: str) -> list[str]:
    root = ET.fromstring(xml_text)
    return [v.text.strip() for v in root.iter("version") if v.text]


def m2_repository() -> Path:
    return Path(os.environ.get("YUQING_M2_REPO", Path.home() / ".m2" / "repository"))


def artifact_path(version: str) -> Path:
    return m2_repository() / GROUP_PATH / version / f"elasticsearch-{version}.zip"


def cached_versions() -> list[str]:
    folder = m2_repository() / GROUP_PATH
    if not folder.is_dir():
        return []
    return [p.name for p in folder.iterdir() if artifact_path(p.name).is_file()]


def resolve_version(series: str = DEFAULT_SERIES) -> str:
    """YUQING_ES_VERSION, else the newest SERIES.x on Maven Central, else the newest cached one."""
    pinned = os.environ.get("YUQING_ES_VERSION")
    if pinned:
        return pinned
    try:
        with urllib.request.urlopen(METADATA_URL, timeout=30) as resp:   # noqa: S310 - fixed https URL
            version = newest_in_series(versions_from_metadata(resp.read().decode("utf-8")), series)
        if version:
            return version
        problem = f"no {series}.x version listed in {METADATA_URL}"
    except (OSError, ET.ParseError) as exc:
        problem = f"cannot read {METADATA_URL}: {exc}"
    cached = newest_in_series(cached_versions(), series)
    if cached:
        _say(f"{problem}; using cached {cached}")
        return cached
    raise NodeUnavailable(problem)


def download(version: str) -> Path:
    """The distribution zip, fetched with Maven into the local Maven cache if missing."""
    path = artifact_path(version)
    if path.is_file():
        return path
    mvn = shutil.which("mvn")
    if mvn is None:
        raise NodeUnavailable("Maven (mvn) is not installed; it fetches the Elasticsearch test distribution")
    _say(f"downloading Elasticsearch {version} test distribution from Maven Central ...")
    cmd = [mvn, "-B", "-q", "-C", f"-Dmaven.repo.local={m2_repository()}", "dependency:get",
           f"-Dartifact={ARTIFACT.format(version=version)}", "-Dtransitive=false"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    except subprocess.TimeoutExpired as exc:
        raise NodeUnavailable(f"mvn dependency:get timed out after {exc.timeout:.0f} s") from None
    if done.returncode != 0 or not path.is_file():
        tail = (done.stdout + done.stderr).strip()[-1500:]
        raise NodeUnavailable(f"mvn dependency:get {ARTIFACT.format(version=version)} failed "
                              f"(exit {done.returncode}): {tail}")
    return path


def base_dir() -> Path:
    configured = os.environ.get("YUQING_ES_BASE")
    if configured:
        return Path(configured)
    # As root the node runs as another user, who cannot enter /root: use a shared folder.
    return Path("/var/tmp/yuqing-es") if os.geteuid() == 0 else Path.home() / ".cache" / "yuqing" / "es"


def unpack(zip_path: Path, version: str) -> Path:
    """The unpacked distribution (ES home), readable by everyone, unpacked once."""
    home = base_dir() / "dist" / f"elasticsearch-{version}"
    if (home / "bin" / "elasticsearch").is_file():
        return home
    unzip = shutil.which("unzip")
    if unzip is None:
        raise NodeUnavailable("unzip is not installed; it unpacks the Elasticsearch distribution")
    staging = home.parent / f".unpack-{os.getpid()}-{secrets.token_hex(4)}"
    staging.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run([unzip, "-q", str(zip_path), "-d", str(staging)], capture_output=True, text=True,
                              check=False)
        unpacked = staging / f"elasticsearch-{version}"
        if done.returncode != 0 or not (unpacked / "bin" / "elasticsearch").is_file():
            raise NodeUnavailable(f"unzip {zip_path} failed (exit {done.returncode}): {done.stderr.strip()[-800:]}")
        subprocess.run(["chmod", "-R", "a+rX", str(unpacked)], check=True)
        for parent in (home.parent, home.parent.parent):
            parent.chmod(0o755)
        try:
            unpacked.rename(home)
        except OSError:
            if not (home / "bin" / "elasticsearch").is_file():   # not a concurrent unpack that won
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return home


def fetch(series: str = DEFAULT_SERIES) -> Path:
    version = resolve_version(series)
    return unpack(download(version), version)


# --- running a node -----------------------------------------------------------------------
def java_home() -> Path:
    """A JDK 17+ for ES_JAVA_HOME: ES_JAVA_HOME, JAVA_HOME, or the `java` on PATH."""
    for var in ("ES_JAVA_HOME", "JAVA_HOME"):
        if os.environ.get(var):
            home = Path(os.environ[var])
            break
    else:
        java = shutil.which("java")
        if java is None:
            raise NodeUnavailable(f"no Java found (install JDK {MIN_JAVA}+ or set ES_JAVA_HOME)")
        home = Path(os.path.realpath(java)).parent.parent
    java_bin = home / "bin" / "java"
    if not java_bin.is_file():
        raise NodeUnavailable(f"{java_bin} not found (set ES_JAVA_HOME to a JDK {MIN_JAVA}+)")
    out = subprocess.run([str(java_bin), "-version"], capture_output=True, text=True, check=False).stderr
    found = re.search(r'version "(\d+)', out)
    if not found or int(found.group(1)) < MIN_JAVA:
        raise NodeUnavailable(f"Elasticsearch needs Java {MIN_JAVA}+; {java_bin} says: {out.strip()[:200]}")
    return home


def ensure_user(name: str = ES_USER) -> tuple[int, int] | None:
    """As root: (uid, gid) of the unprivileged user that runs Elasticsearch, created if missing.
    Otherwise None (the node runs as the current user)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        useradd = shutil.which("useradd")
        if useradd is None:
            raise NodeUnavailable(f"running as root and cannot create user {name!r} (no useradd)") from None
        done = subprocess.run([useradd, "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                               "--shell", "/usr/sbin/nologin", name], capture_output=True, text=True, check=False)
        if done.returncode not in (0, 9):   # 9: created meanwhile by a concurrent run
            raise NodeUnavailable(f"useradd {name} failed: {done.stderr.strip()}") from None
        entry = pwd.getpwnam(name)
    return entry.pw_uid, entry.pw_gid


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the parent dies, so a killed test run leaves no node behind."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
    except OSError:  # pragma: no cover - not glibc
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _chown_tree(path: Path, owner: tuple[int, int] | None) -> None:
    if owner is None:
        return
    for root, dirs, files in os.walk(path):
        os.chown(root, *owner)
        for name in dirs + files:
            os.chown(os.path.join(root, name), *owner)


class TestNode:
    """One Elasticsearch process with its own folder. start() → url; stop(); restart() keeps data."""

    __test__ = False   # not a pytest test class

    def __init__(self, home: Path, *, workdir: Path | None = None, port: int = 0, heap: str = DEFAULT_HEAP,
                 name: str = "yuqing-test", keep_data: bool = False):
        self.home = home
        self.workdir = workdir or base_dir() / "nodes" / f"{name}-{os.getpid()}-{secrets.token_hex(3)}"
        self.port = port
        self.heap = heap
        self.name = name
        self.keep_data = keep_data
        self.process: subprocess.Popen[bytes] | None = None
        self._owner = ensure_user()
        self._java_home = java_home()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "logs" / "console.log"

    def _prepare(self) -> None:
        for sub in ("data", "logs", "tmp"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        config = self.workdir / "config"
        if not config.is_dir():   # own config folder: Elasticsearch writes its keystore there
            shutil.copytree(self.home / "config", config)
        self.workdir.parent.chmod(0o755)
        _chown_tree(self.workdir, self._owner)
        (self.workdir / "logs" / "http.ports").unlink(missing_ok=True)

    def command(self) -> list[str]:
        settings = {
            "cluster.name": self.name, "node.name": self.name, "discovery.type": "single-node",
            "network.host": "127.0.0.1", "http.port": str(self.port), "transport.port": "0",
            "node.portsfile": "true", "path.data": str(self.workdir / "data"),
            "path.logs": str(self.workdir / "logs"), "cluster.routing.allocation.disk.threshold_enabled": "false",
            "xpack.security.enabled": "false", "action.destructive_requires_name": "true",
        }
        return [str(self.home / "bin" / "elasticsearch"), *[a for k, v in settings.items() for a in ("-E", f"{k}={v}")]]

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ES_", "JAVA_"))}
        env.update({
            "ES_JAVA_HOME": str(self._java_home), "ES_PATH_CONF": str(self.workdir / "config"),
            "ES_TMPDIR": str(self.workdir / "tmp"), "HOME": str(self.workdir),
            "ES_JAVA_OPTS": f"-Xms{self.heap} -Xmx{self.heap} -XX:-HeapDumpOnOutOfMemoryError",
        })
        return env

    def start(self, timeout_s: float = START_TIMEOUT_S) -> str:
        if self.process is not None and self.process.poll() is None:
            return self.url
        self._prepare()
        started = time.monotonic()
        log = self.log_path.open("ab")
        identity: dict[str, object] = {}
        if self._owner is not None:
            identity = {"user": self._owner[0], "group": self._owner[1], "extra_groups": []}
        self.process = subprocess.Popen(   # noqa: S603 - our own command line
            self.command(), cwd=self.workdir, env=self.environment(), stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True, **identity,
            # The parent-death signal fires when the *thread* that started the node ends, so
            # only a node started by the main thread gets it.
            preexec_fn=_die_with_parent if threading.current_thread() is threading.main_thread() else None)
        log.close()
        (self.workdir / "pid").write_text(str(self.process.pid))
        (self.workdir / "owner").write_text(str(os.getpid()))
        if self.keep_data:
            (self.workdir / "keep").touch()
        try:
            self._wait_ready(started + timeout_s)
        except BaseException:
            self.stop()
            raise
        _say(f"Elasticsearch {self.home.name.removeprefix('elasticsearch-')} up at {self.url} "
             f"in {time.monotonic() - started:.1f} s (data in {self.workdir})")
        return self.url

    def _wait_ready(self, deadline: float) -> None:
        ports = self.workdir / "logs" / "http.ports"
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise NodeUnavailable(f"Elasticsearch exited with code {self.process.returncode} while starting; "
                                      f"log tail:\n{self.log_tail()}")
            # The ports file is written by this process once HTTP is bound (a node still
            # shutting down on the same port must not pass for this one).
            text = ports.read_text().strip() if ports.is_file() else ""
            if text:
                self.port = int(text.splitlines()[0].rsplit(":", 1)[1])
                if self.healthy():
                    return
            time.sleep(0.5)
        raise NodeUnavailable(f"Elasticsearch not healthy after {START_TIMEOUT_S:.0f} s; log tail:\n{self.log_tail()}")

    def healthy(self) -> bool:
        url = f"{self.url}/_cluster/health?wait_for_status=yellow&timeout=1s"
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:   # noqa: S310 - loopback
                return json.loads(resp.read()).get("status") in ("yellow", "green")
        except (OSError, ValueError):
            return False

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout_s: float = 60.0) -> None:
        """Stop the node (SIGTERM, then SIGKILL of its own process group). Data stays."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            pass
        # The launcher may exit before the server JVM it started: wait for the whole process
        # group (the session this node leads) to be gone, then kill what is left.
        while _group_alive(process.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _group_alive(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
        if process.poll() is None:
            process.wait(timeout=30)

    def restart(self, timeout_s: float = START_TIMEOUT_S) -> str:
        """Stop and start again on the same port with the same data."""
        self.stop()
        return self.start(timeout_s)

    def cleanup(self) -> None:
        self.stop()
        if not self.keep_data:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> "TestNode":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_stale_nodes() -> None:
    """Stop nodes whose owning process has died (a killed earlier run), found by their pid files.
    Nodes of runs still alive are left alone."""
    nodes = base_dir() / "nodes"
    if not nodes.is_dir():
        return
    for folder in nodes.iterdir():
        try:
            owner = int((folder / "owner").read_text())
        except (OSError, ValueError):
            continue
        if _alive(owner):
            continue
        try:
            pid = int((folder / "pid").read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except (OSError, ValueError):
            cmdline, pid = "", 0
        if pid and str(folder) in cmdline:   # still the node that run started there
            _say(f"stopping a node left running by an earlier run (pid {pid})")
            os.kill(pid, signal.SIGTERM)
        elif not (folder / "keep").exists():
            shutil.rmtree(folder, ignore_errors=True)


def start_node(*, port: int = 0, heap: str | None = None, name: str = "yuqing-test",
               workdir: Path | None = None, keep_data: bool = False) -> TestNode:
    """Fetch, unpack and start a node; raises NodeUnavailable with the reason."""
    home = fetch(os.environ.get("YUQING_ES_SERIES", DEFAULT_SERIES))
    node = TestNode(home, port=port, heap=heap or os.environ.get("YUQING_ES_HEAP", DEFAULT_HEAP), name=name,
                    workdir=workdir, keep_data=keep_data)
    node.start()
    return node


# --- the node tests share ------------------------------------------------------------------
_shared: dict[str, object] = {}


def shared_node_url() -> str:
    """The Elasticsearch URL for tests: YUQING_ES_URL when set (e.g. by `run`), else a node started
    once per process and stopped at exit. Raises NodeUnavailable with the reason."""
    url = os.environ.get("YUQING_ES_URL")
    if url:
        return url
    if os.environ.get("YUQING_ES_UNAVAILABLE"):
        raise NodeUnavailable(os.environ["YUQING_ES_UNAVAILABLE"])
    if os.environ.get("YUQING_ES", "").lower() in ("0", "off", "no", "skip"):
        raise NodeUnavailable("disabled by YUQING_ES=off")
    if "error" in _shared:
        raise NodeUnavailable(str(_shared["error"]))
    if "node" not in _shared:
        try:
            reap_stale_nodes()
            node = start_node()
        except NodeUnavailable as exc:
            _shared["error"] = str(exc)
            raise
        _shared["node"] = node
        atexit.register(node.cleanup)
    node = _shared["node"]
    assert isinstance(node, TestNode)
    return node.url


def _unavailable_in_tests(exc: NodeUnavailable) -> None:
    import pytest

    if os.environ.get("YUQING_REQUIRE_ES") == "1":
        pytest.fail(f"Elasticsearch test node required (YUQING_REQUIRE_ES=1) but unavailable: {exc}", pytrace=False)
    pytest.skip(f"Elasticsearch test node unavailable: {exc} (needs Java 17+, Maven and unzip, or set YUQING_ES_URL)")


def own_node_for_tests(name: str = "yuqing-test") -> TestNode:
    """A node of the test's own (e.g. to stop and restart it), with url_for_tests' skip/fail rule.
    The caller cleans it up."""
    try:
        if os.environ.get("YUQING_ES", "").lower() in ("0", "off", "no", "skip"):
            raise NodeUnavailable("disabled by YUQING_ES=off")
        return start_node(name=name)
    except NodeUnavailable as exc:
        _unavailable_in_tests(exc)
        raise   # not reached: skip/fail raise


def url_for_tests() -> str:
    """shared_node_url() for a pytest test: skips with the reason, or fails when YUQING_REQUIRE_ES=1
    (set by `make test`, so a broken Elasticsearch setup fails CI instead of skipping)."""
    try:
        return shared_node_url()
    except NodeUnavailable as exc:
        _unavailable_in_tests(exc)
        raise   # not reached: skip/fail raise


# --- command line ---------------------------------------------------------------------------
def _run(command: list[str], port: int) -> int:
    env = dict(os.environ)
    node: TestNode | None = None
    try:
        reap_stale_nodes()
        node = start_node(port=port)
        env["YUQING_ES_URL"] = node.url
    except NodeUnavailable as exc:
        _say(f"no Elasticsearch test node: {exc}")
        env["YUQING_ES_UNAVAILABLE"] = str(exc)
    try:
        child = subprocess.Popen(command, env=env)   # noqa: S603 - the caller's own command
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda signum, _frame: child.send_signal(signum))
        return child.wait()
    finally:
        if node is not None:
            node.cleanup()


def _serve(port: int, workdir: Path | None) -> int:
    reap_stale_nodes()
    node = start_node(port=port, name="yuqing-dev", workdir=workdir or base_dir() / "nodes" / "yuqing-dev",
                      keep_data=True)
    print(f"export YUQING_ES_URL={node.url}", flush=True)
    _say("Ctrl-C stops the node; data stays in " + str(node.workdir))
    stop = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    try:
        while not stop and node.process is not None and node.process.poll() is None:
            time.sleep(0.5)
    finally:
        node.cleanup()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.es_node", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("fetch", help="download and unpack the test distribution; print its folder")
    serve = sub.add_parser("serve", help="run a node in the foreground until Ctrl-C")
    serve.add_argument("--port", default="auto", help="HTTP port; auto: 9200 if free, else any free port")
    serve.add_argument("--workdir", type=Path, help="node folder (data kept between runs)")
    run = sub.add_parser("run", help="run a command with a node up (YUQING_ES_URL set for it)")
    run.add_argument("--port", type=int, default=0)
    run.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD ARGS ...")
    args = parser.parse_args(argv)
    try:
        if args.action == "fetch":
            print(fetch(os.environ.get("YUQING_ES_SERIES", DEFAULT_SERIES)))
            return 0
        if args.action == "serve":
            port = (9200 if port_is_free(9200) else 0) if args.port == "auto" else int(args.port)
            return _serve(port, args.workdir)
        command = args.command[1:] if args.command[:1] == ["--"] else args.command
        if not command:
            parser.error("run needs a command after --")
        return _run(command, args.port)
    except NodeUnavailable as exc:
        _say(f"error: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())

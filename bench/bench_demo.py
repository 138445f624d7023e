"""The end-to-end demo: wall time of each stage and peak memory (target: under 3 minutes on 2 cores)."""
from __future__ import annotations

import json
import platform
import resource
import subprocess
import sys
import tempfile
import time


def main() -> None:
    with tempfile.TemporaryDirectory() as out:
        started = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "yuqing", "demo", "--out", out],
                              capture_output=True, text=True)
        seconds = time.monotonic() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(proc.stdout[-1500:])
    print(json.dumps({"bench": "demo", "exit_code": proc.returncode, "wall_s": round(seconds, 1),
                      "peak_rss_mb": round(peak_mb), "python": platform.python_version(),
                      "cpus": __import__("os").cpu_count()}))


if __name__ == "__main__":
    main()

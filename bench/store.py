"""The benchmarks' store: moto's server in its own process with the local stack's fixes
(infra/local/moto_fixes.py), so that the measured process holds only the code under test, as a
Lambda process does (an in-process moto's tables live in the measured heap, and its garbage
collections walk them)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    from infra.local.process import free_port

    port = free_port()
    code = (
        "from infra.local import moto_fixes; moto_fixes.install()\n"
        "from moto.server import ThreadedMotoServer\n"
        f"s = ThreadedMotoServer(ip_address='127.0.0.1', port={port}, verbose=False); s.start()\n"
        "import time\nwhile True: time.sleep(3600)\n"
    )
    server = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1)
            return server, url
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("moto server did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

"""Benchmark: what the tracking-server check costs each stage, against `import torch`.

Every stage calls tracking.server.check_server before any work when
MLFLOW_TRACKING_URI names a server (one GET of the real API, no MLflow
import). This starts a real `mlflow server` (sqlite, loopback), then measures
in one run: the call itself (warm, N times), a fresh process importing the
check and calling it, the same with no server named (no call), and the floor
`python -c "import torch"`.

    python bench/server_check_speed.py [--calls 50] [--processes 5]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from latent_atlas.tracking.server import check_server

BIN = Path(sys.executable).parent
FRESH = ("import time; t = time.perf_counter(); from latent_atlas.tracking.server import check_server; "
         "from latent_atlas.tracking.store import tracking_uri; check_server(tracking_uri()); "
         "print(time.perf_counter() - t)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fresh_process(env: dict[str, str], repeats: int) -> float:
    return statistics.median(float(subprocess.run([sys.executable, "-c", FRESH], env=env, check=True,
                                                  capture_output=True, text=True).stdout)
                             for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--processes", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"http://127.0.0.1:{free_port()}"
        server = subprocess.Popen([str(BIN / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{tmp}/mlflow.db",
                                   "--host", "127.0.0.1", "--port", url.rsplit(":", 1)[1], "--workers", "1"],
                                  cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = time.monotonic() + 180
            while True:
                try:
                    urllib.request.urlopen(f"{url}/health", timeout=2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("mlflow server did not answer within 180 s") from None
                    time.sleep(0.5)
            check_server(url)
            calls = []
            for _ in range(args.calls):
                start = time.perf_counter()
                check_server(url)
                calls.append(time.perf_counter() - start)
            env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
            with_server = fresh_process({**env, "MLFLOW_TRACKING_URI": url}, args.processes)
            without = fresh_process(env, args.processes)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    floor = statistics.median(_timed([sys.executable, "-c", "import torch"]) for _ in range(3))
    print(f"check_server against a live mlflow server: median {statistics.median(calls) * 1000:.1f} ms, "
          f"max {max(calls) * 1000:.1f} ms ({args.calls} calls)")
    print(f"fresh process, import the check and call it: {with_server * 1000:.0f} ms; no server named: "
          f"{without * 1000:.0f} ms")
    print(f"floor, python -c 'import torch': {floor:.2f} s; the check with a server is "
          f"{with_server / floor:.1%} of it")


def _timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()

"""Service overhead, multi-stream scaling and hot-swap (``python -m bench.service``).

Serves a fixed-seed untrained bundle (same graph, input shape from ``params.yaml`` ``detector:``, and
so the same cost as the trained champion) from a temporary MLflow
registry with ``percept serve`` in its own process on 127.0.0.1 (so the load generator does not share
its GIL), and measures:
- latency p50/p99 and aggregate frames/s for 1, 4 and 8 concurrent streams over HTTP and WebSocket,
  next to bare in-process ORT + tracking on the same frames (one stream, sequential);
- hot-swap: alias move -> first message from the new version, and failed requests during the swap
  while 4 streams keep sending.
``dropped`` counts 503 answers (stale or backpressure drops: the service shedding load by design);
``failed`` counts every other non-200 answer. ``srv cpu`` / ``cli cpu``: CPU milliseconds the server
process and the load generator (this process) spent per answered frame, all threads; their sum
against the wall time per frame says how much of the 2 cores a row used.
Goals: overhead <= 10 % at 1 stream; 8-stream fps >= 1.5x 1-stream; swap <= 2 s; 0 failed.

Subsets (same measurement, fewer rows): ``PERCEPT_BENCH_STREAMS=1,8``, ``PERCEPT_BENCH_MODES=http``,
``PERCEPT_BENCH_SWAP=0``, ``PERCEPT_BENCH_REPEAT=3`` (each served row measured that many times).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import httpx
import numpy as np
import websockets

FRAMES = 40
nan = float("nan")
JPEG = {"content-type": "image/jpeg"}
CLIP = Path(__file__).resolve().parents[1] / "tests" / "data" / "vtest_clip.mp4"


def _frames() -> list[bytes]:
    cap = cv2.VideoCapture(str(CLIP))
    out = []
    while len(out) < FRAMES:
        ok, image = cap.read()
        if not ok:
            break
        out.append(cv2.imencode(".jpg", image)[1].tobytes())
    cap.release()
    return out


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far, all its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bare(bodies: list[bytes], bundle_dir: Path) -> dict:
    """In-process: decode + ORT + tracker per frame, the work the service wraps."""
    from perception.bundle import load_bundle
    from services.perception.pipeline import default_tracker_factory

    bundle = load_bundle(bundle_dir)
    detector, tracker = bundle.detector(), default_tracker_factory(dict(bundle.tracker))
    detector.detect([cv2.imdecode(np.frombuffer(bodies[0], np.uint8), cv2.IMREAD_COLOR)])
    lat = []
    start, cpu0 = time.perf_counter(), time.process_time()
    for body in bodies:
        t0 = time.perf_counter()
        image = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
        tracker.update(detector.detect([image])[0], timestamp=t0)
        lat.append((time.perf_counter() - t0) * 1000)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
    return {"mode": "bare ORT+track", "streams": 1, "p50_ms": _pct(lat, 50), "p99_ms": _pct(lat, 99),
            "fps": len(bodies) / wall, "dropped": 0, "failed": 0, "srv_cpu_ms": nan,
            "cli_cpu_ms": cpu * 1000 / len(bodies)}


async def _http_stream(base: str, sid: str, bodies: list[bytes], lat: list[float], fails: list[int]) -> None:
    async with httpx.AsyncClient(timeout=60) as client:
        for body in bodies:
            t0 = time.perf_counter()
            r = await client.post(f"{base}/v1/streams/{sid}/frames", content=body, headers=JPEG)
            lat.append((time.perf_counter() - t0) * 1000)
            fails[0 if r.status_code == 503 else 1] += r.status_code != 200


async def _ws_stream(base: str, sid: str, bodies: list[bytes], lat: list[float], fails: list[int]) -> None:
    url = base.replace("http://", "ws://") + f"/v1/streams/{sid}"
    async with websockets.connect(url, max_size=None) as ws:
        for body in bodies:
            t0 = time.perf_counter()
            await ws.send(body)
            reply = await ws.recv()
            if reply.startswith('{"error"'):
                fails[0 if '"status": 503' in reply else 1] += 1
            lat.append((time.perf_counter() - t0) * 1000)


def served(base: str, bodies: list[bytes], streams: int, mode: str, tag: str, server_pid: int) -> dict:
    lat: list[float] = []
    fails = [0, 0]
    run = _http_stream if mode == "http" else _ws_stream

    async def go():
        ids = [f"{tag}{mode}{streams}-{i}" for i in range(streams)]
        await asyncio.gather(*(run(base, sid, bodies, lat, fails) for sid in ids))

    start, srv0, cli0 = time.perf_counter(), _cpu_s(server_pid), time.process_time()
    asyncio.run(go())
    wall = time.perf_counter() - start
    srv_cpu, cli_cpu = _cpu_s(server_pid) - srv0, time.process_time() - cli0
    for i in range(streams):  # repeated rows would otherwise run into max_streams
        httpx.delete(f"{base}/v1/streams/{tag}{mode}{streams}-{i}", timeout=30)
    answered = max(1, len(lat) - fails[0] - fails[1])
    return {"mode": mode, "streams": streams, "p50_ms": _pct(lat, 50), "p99_ms": _pct(lat, 99),
            "fps": len(lat) / wall, "dropped": fails[0], "failed": fails[1],
            "srv_cpu_ms": srv_cpu * 1000 / answered, "cli_cpu_ms": cli_cpu * 1000 / answered}


def swap(base: str, bodies: list[bytes], move, v_new: int) -> dict:
    fails = [0, 0]
    first_new: list[float] = []
    stop = threading.Event()

    async def load():
        async def one(i):
            async with httpx.AsyncClient(timeout=60) as client:
                k = 0
                while not stop.is_set():
                    body = bodies[k % len(bodies)]
                    r = await client.post(f"{base}/v1/streams/swap{i}/frames", content=body, headers=JPEG)
                    k += 1
                    if r.status_code != 200:
                        fails[0 if r.status_code == 503 else 1] += 1
                    elif r.json()["model_version"] == v_new and not first_new:
                        first_new.append(time.perf_counter())
        await asyncio.gather(*(one(i) for i in range(4)))

    thread = threading.Thread(target=lambda: asyncio.run(load()))
    thread.start()
    time.sleep(1.0)
    t0 = time.perf_counter()
    move(v_new)
    httpx.post(f"{base}/v1/admin/reload", headers={"authorization": "Bearer bench"}, timeout=60)
    deadline = time.time() + 30
    while not first_new and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.5)
    stop.set()
    thread.join()
    return {"mode": "hot-swap (4 streams HTTP)", "streams": 4, "p50_ms": nan, "p99_ms": nan, "fps": nan,
            "dropped": fails[0], "failed": fails[1], "swap_s": (first_new[0] - t0) if first_new else nan,
            "srv_cpu_ms": nan, "cli_cpu_ms": nan}


def _wait_up(base: str, server: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"percept serve exited with {server.returncode}")
        try:
            httpx.get(f"{base}/healthz", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError("percept serve did not come up")


def _env_list(name: str, default: str) -> list[str]:
    return [v.strip() for v in os.environ.get(name, default).split(",") if v.strip()]


def run(
    streams: tuple[int, ...] | None = None, modes: tuple[str, ...] | None = None, *,
    with_swap: bool | None = None, repeat: int | None = None,
) -> list[dict]:
    """Rows for the bare baseline, each (mode, streams) ``repeat`` times, then the hot-swap.
    Arguments left None come from the ``PERCEPT_BENCH_*`` variables (module docstring)."""
    streams = streams or tuple(int(v) for v in _env_list("PERCEPT_BENCH_STREAMS", "1,4,8"))
    modes = modes or tuple(_env_list("PERCEPT_BENCH_MODES", "http,ws"))
    with_swap = os.environ.get("PERCEPT_BENCH_SWAP", "1") != "0" if with_swap is None else with_swap
    repeat = repeat or int(os.environ.get("PERCEPT_BENCH_REPEAT", "1"))
    tmp = Path(tempfile.mkdtemp(prefix="percept-bench-service-"))
    old_home = os.environ.get("PERCEPT_HOME")
    os.environ["PERCEPT_HOME"] = str(tmp / "home")
    try:
        from bench import shipped_detector_config
        from registry.bundles import register_bundle
        from registry.ledger import move_alias
        from services.perception.testing import free_port, untrained_bundle, wait_ready

        shipped = shipped_detector_config()
        bundle = untrained_bundle(tmp / "b1", input_size=shipped.input_size, input_height=shipped.input_height)
        shutil.copytree(bundle, tmp / "b2")
        v1 = register_bundle(bundle).version
        v2 = register_bundle(tmp / "b2").version
        def move(version: int) -> None:
            move_alias("percept-detector", "champion", version, actor="bench", reason="bench")

        move(v1)
        bodies = _frames()
        rows = [bare(bodies, bundle) for _ in range(repeat)]
        port = free_port()
        env = {**os.environ, "PERCEPT_ADMIN_TOKEN": "bench"}
        server = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "serve", "--port", str(port), "--poll", "0"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_up(base, server)
            wait_ready(base, version=v1, timeout=120)
            served(base, bodies[:5], 1, "http", "warm", server.pid)
            for mode in modes:
                for n in streams:
                    rows.extend(served(base, bodies, n, mode, f"b{k}", server.pid) for k in range(repeat))
            if with_swap:
                rows.append(swap(base, bodies, move, v2))
        finally:
            server.terminate()
            server.wait(timeout=30)
        return rows
    finally:
        if old_home is None:
            os.environ.pop("PERCEPT_HOME", None)
        else:
            os.environ["PERCEPT_HOME"] = old_home
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    from rich.console import Console
    from rich.table import Table

    load_before = os.getloadavg()[0]
    rows = run()
    table = Table("mode", "streams", "p50 ms", "p99 ms", "frames/s", "srv cpu ms/f", "cli cpu ms/f",
                  "dropped", "failed", "swap s",
                  title=f"load average (1 min) {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
    for r in rows:
        swap_s = f"{r['swap_s']:.2f}" if "swap_s" in r else ""
        numbers = [f"{r[k]:.1f}" for k in ("p50_ms", "p99_ms", "fps", "srv_cpu_ms", "cli_cpu_ms")]
        table.add_row(r["mode"], str(r["streams"]), *numbers, str(r["dropped"]), str(r["failed"]), swap_s)
    console = Console()
    console.print(table)
    for line in goals(rows):
        console.print(line)


def goals(rows: list[dict]) -> list[str]:
    """The issue's goals from the rows, repeats averaged: overhead at 1 stream, 8 streams vs 1, swap."""
    def fps(mode: str, streams: int) -> float:
        values = [r["fps"] for r in rows if r["mode"] == mode and r["streams"] == streams]
        return float(np.mean(values)) if values else nan

    bare = fps("bare ORT+track", 1)
    lines = []
    for mode in ("http", "ws"):
        one, eight = fps(mode, 1), fps(mode, 8)
        if not np.isnan(one):
            lines.append(f"{mode}: 1 stream {one:.1f} frames/s vs bare {bare:.1f}: overhead {1 - one / bare:+.1%} "
                         "(goal <= 10%)")
        if not np.isnan(one) and not np.isnan(eight):
            lines.append(f"{mode}: 8 streams {eight:.1f} frames/s = {eight / one:.2f}x 1 stream (goal >= 1.5x)")
    for r in rows:
        if "swap_s" in r:
            lines.append(f"hot-swap: {r['swap_s']:.2f} s to the new version's first message (goal <= 2 s), "
                         f"{r['failed']} failed requests (goal 0)")
    return lines


if __name__ == "__main__":
    main()

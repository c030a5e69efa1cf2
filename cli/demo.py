"""``percept demo``: the whole loop on the embedded default, as a user would type it.

synth -> ingest (DVC) -> retrain (Ray candidates, MLflow, gate) -> models/ledger -> serve the
champion -> stream a held-out synthetic sequence and the vtest clip -> control bridge.
Each step is the ``percept`` command a user would run, so the demo shows nothing the CLI can't do.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import typer

from cli.common import console, fail

REPO = Path(__file__).resolve().parents[1]


def _percept(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli.main", *args]


def _step(title: str, *args: str, capture: bool = False) -> str:
    console.rule(f"[bold]{title}")
    console.print(f"[dim]$ percept {' '.join(args)}[/]")
    proc = subprocess.run(_percept(*args), cwd=REPO, text=True, capture_output=capture, env=_env())
    if capture:
        sys.stdout.write(proc.stdout)
        sys.stderr.write(proc.stderr)
    if proc.returncode != 0:
        fail(f"`percept {' '.join(args)}` failed (exit {proc.returncode}); see above")
    return proc.stdout if capture else ""


def _env() -> dict[str, str]:
    # Without a terminal rich would wrap tables at 80 columns; the demo's tables are wider.
    return {**os.environ, "COLUMNS": os.environ.get("COLUMNS", "160")}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, proc: subprocess.Popen, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            fail(f"percept serve exited with {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    fail(f"percept serve was not ready at {url} after {timeout_s:.0f} s")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def demo(
    candidates: int = typer.Option(2, "--candidates", min=1, help="Candidates trained in parallel by Ray."),
    serve: bool = typer.Option(True, "--serve/--no-serve", help="End by serving the champion and streaming."),
) -> None:
    """Run the whole loop on the embedded default and print where to look."""
    from perception.config import load_params, percept_home

    started = time.perf_counter()
    params = load_params(REPO / "params.yaml")
    synth = params.get("synth", {})
    name = params.get("dataset", {}).get("name", "demo")
    home = percept_home()
    out = home / "demo"
    out.mkdir(parents=True, exist_ok=True)
    console.print(f"PERCEPT_HOME = {home}")

    spec = f"synth:sequences={synth.get('sequences', 5)},frames={synth.get('frames', 60)},seed={synth.get('seed', 0)}"
    _step("1. ingest synthetic scenes (DVC-versioned)", "ingest", spec, "--name", name, "--record", str(out / "version.json"))
    version = json.loads((out / "version.json").read_text())
    _step("2. retrain: Ray candidates -> evaluate -> MLflow -> gate", "retrain", "--dataset", name, "--candidates", str(candidates))
    _step("3. registered models", "models")
    _step("4. promotion ledger", "ledger")

    if serve:
        _serve_and_stream(Path(version["path"]), out)

    _print_dashboards(home)
    console.rule()
    console.print(f"demo finished in {time.perf_counter() - started:.0f} s; outputs under {out}")


def _serve_and_stream(dataset: Path, out: Path) -> None:
    import httpx

    from perception.data.dataset import read_dataset_yaml

    spec = read_dataset_yaml(dataset)
    test_seq = dataset / spec.split("test")[0]
    port = _free_port()
    server = f"http://127.0.0.1:{port}"
    console.rule("[bold]5. serve the champion, stream through it, feed the control bridge")
    console.print(f"[dim]$ percept serve --port {port}[/]")
    log = open(out / "serve.log", "w")
    serve = subprocess.Popen(
        _percept("serve", "--port", str(port), "--allow-root", str(dataset)),
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=_env(),
    )
    bridge = None
    try:
        _wait_ready(f"{server}/readyz", serve)
        console.print(f"service ready at {server} (log: {out / 'serve.log'})")
        # The calibration creates the stream, so the bridge has something to subscribe to.
        resp = httpx.put(f"{server}/v1/streams/synthetic/calibration", json=dict(spec.camera or {}), timeout=10)
        if resp.status_code != 200:
            fail(f"the service refused the synthetic camera ({resp.status_code}): {resp.text}")
        bridge_out = open(out / "bridge.jsonl", "w")
        bridge = subprocess.Popen(
            _percept("bridge", "synthetic", "--server", server), cwd=REPO, stdout=bridge_out, stderr=subprocess.DEVNULL
        )
        time.sleep(2.0)  # let the bridge subscribe before the first frame
        calib = ["--calibration", str(dataset / "dataset.yaml")]
        _step("5a. held-out synthetic sequence", "stream", str(test_seq / "img1"), "--server", server,
              "--stream-id", "synthetic", "--ws", "--out", str(out / "synthetic_annotated.mp4"), *calib)
        _step("5b. real pedestrian clip (tests/data/vtest_clip.mp4)", "stream", str(REPO / "tests/data/vtest_clip.mp4"),
              "--server", server, "--stream-id", "vtest", "--out", str(out / "vtest_annotated.mp4"))
        time.sleep(1.0)
    finally:
        if bridge is not None:
            _stop(bridge)
        _stop(serve)
    events = [line for line in (out / "bridge.jsonl").read_text().splitlines() if line.strip()]
    console.rule("[bold]6. control bridge output (JSON lines)")
    for line in events[:5]:
        console.print(line, markup=False, highlight=False)
    console.print(f"{len(events)} bridge events -> {out / 'bridge.jsonl'}")
    console.print(f"annotated videos: {out / 'synthetic_annotated.mp4'}, {out / 'vtest_annotated.mp4'}")


def _print_dashboards(home: Path) -> None:
    uri = os.environ.get("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}")
    console.rule("[bold]dashboards")
    console.print(f"MLflow UI:      mlflow ui --backend-store-uri {uri} --host 127.0.0.1   (then http://127.0.0.1:5000)")
    console.print("Prefect UI:     prefect server start --host 127.0.0.1   (then http://127.0.0.1:4200; `percept schedule` starts one for you)")
    console.print("Ray dashboard:  http://127.0.0.1:8265 while a retrain runs (ray.init starts it); on a cluster, RAY_ADDRESS's head:8265")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)

"""Every route against a real uvicorn on 127.0.0.1, with an in-process test detector.

The onnxruntime + MLflow path is in test_registry_swap.py.
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import numpy as np
import pytest
import websockets

from services.perception.app import create_app
from services.perception.settings import ServiceSettings
from tests.services.perception.svc_helpers import (
    BrightBoxDetector, ListSource, bright_frame, jpeg, png, running, stub_loader, wait_ready,
)

pytestmark = pytest.mark.integration
JPEG = {"content-type": "image/jpeg"}
CALIB = {"fx": 300.0, "fy": 300.0, "cx": 160.0, "cy": 120.0, "height_m": 1.5, "pitch_rad": 0.0, "width": 320,
         "height": 240}


@pytest.fixture(scope="module")
def server(test_data):
    models = {1: BrightBoxDetector(), 2: BrightBoxDetector(score=0.8), 3: RuntimeError("bad onnx")}
    source = ListSource(models=models, version=1)
    settings = ServiceSettings(poll_interval_s=0, admin_token="s3cret", max_body_bytes=200_000,
                               allowed_roots=(str(test_data),), batch_window_ms=20)
    app = create_app(settings, source=source, loader=stub_loader(source))
    with running(app, ws_max_size=settings.max_body_bytes) as base:
        wait_ready(base)
        yield base, source


def post(base, stream, body, headers=JPEG):
    return httpx.post(f"{base}/v1/streams/{stream}/frames", content=body, headers=headers, timeout=30)


def test_health_ready_model_metrics(server):
    base, _ = server
    assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{base}/readyz").json()["ready"] is True
    model = httpx.get(f"{base}/v1/model").json()
    assert model["version"] == 1 and model["alias"] == "champion" and model["lineage"] == {"note": "test v1"}
    assert post(base, "m1", jpeg(bright_frame(20))).status_code == 200
    text = httpx.get(f"{base}/metrics").text
    assert 'percept_frames_total{stream="m1"} 1.0' in text and "percept_model_version 1.0" in text
    assert "percept_latency_seconds_bucket" in text and 'percept_track_births_total{stream="m1"}' in text


def test_post_frames_track_and_range(server):
    base, _ = server
    assert httpx.put(f"{base}/v1/streams/r1/calibration", json=CALIB).status_code == 200
    replies = []
    for i in range(4):
        ts = 1000.0 + 0.1 * i
        body = png(bright_frame(100, y=100 + 10 * i)) if i % 2 else jpeg(bright_frame(100, y=100 + 10 * i))
        headers = {"content-type": "image/png" if i % 2 else "image/jpeg", "x-capture-ts": str(ts)}
        r = post(base, "r1", body, headers)
        assert r.status_code == 200, r.text
        replies.append(r.json())
    assert [m["frame_index"] for m in replies] == [0, 1, 2, 3]
    assert {m["tracks"][0]["track_id"] for m in replies} == {replies[0]["tracks"][0]["track_id"]}
    last = replies[-1]["tracks"][0]
    assert last["range_m"] == pytest.approx(1.5 * 300 / (190 - 120), rel=0.05)  # h * fy / (box bottom - cy)
    assert last["closing_speed_mps"] > 0 and last["ttc_s"] > 0
    assert replies[0]["capture_ts"] == 1000.0 and replies[0]["stale"] is False
    uncal = post(base, "r2", jpeg(bright_frame(100))).json()["tracks"][0]
    assert uncal["range_m"] is None and uncal["ttc_s"] is None


@pytest.mark.parametrize(
    "stream, body, headers, status",
    [
        ("bad", b"", JPEG, 400),
        ("bad", b"not an image at all", JPEG, 400),
        ("bad", jpeg(bright_frame(5))[:300], JPEG, 400),
        ("bad", jpeg(bright_frame(5)), {"content-type": "text/plain"}, 415),
        ("bad", jpeg(bright_frame(5)), {"content-type": "image/gif"}, 415),
        ("bad", b"\xff\xd8\xff" + b"\0" * 300_000, JPEG, 413),
        ("bad", jpeg(bright_frame(5)), {**JPEG, "x-capture-ts": "yesterday"}, 422),
        ("bad stream!", jpeg(bright_frame(5)), JPEG, 422),
    ],
)
def test_bad_frames(server, stream, body, headers, status):
    base, _ = server
    r = post(base, stream, body, headers)
    assert r.status_code == status
    assert isinstance(r.json()["detail"], str) and "Traceback" not in r.text
    assert post(base, "good", jpeg(bright_frame(5))).status_code == 200  # a failing stream disturbs no other


def test_chunked_oversized_body_is_413(server):
    base, _ = server

    def chunks():
        for _ in range(50):
            yield b"\xff" * 10_000

    r = httpx.post(f"{base}/v1/streams/c1/frames", content=chunks(), headers=JPEG)
    assert r.status_code == 413


@pytest.mark.parametrize(
    "method, path, body, status",
    [
        ("GET", "/v1/streams/nope", None, 404),
        ("DELETE", "/v1/streams/nope", None, 404),
        ("GET", "/v1/streams/nope/calibration", None, 404),
        ("GET", "/v1/streams/nope/tracks/sse", None, 404),
        ("DELETE", "/v1/sources/nope", None, 404),
        ("PUT", "/v1/streams/c/calibration", b"{not json", 422),
        ("PUT", "/v1/streams/c/calibration", json.dumps({**CALIB, "fx": -1}).encode(), 422),
        ("PUT", "/v1/streams/c/calibration", json.dumps({**CALIB, "pitch_rad": 1.5}).encode(), 422),
        ("POST", "/v1/sources", b"{", 422),
        ("POST", "/v1/sources", json.dumps({"stream_id": "s", "url": "/etc/passwd"}).encode(), 403),
        ("POST", "/v1/sources", json.dumps({"stream_id": "s", "url": "gopher://x"}).encode(), 400),
        ("POST", "/v1/admin/reload", None, 401),
        ("GET", "/v1/nothing-here", None, 404),
    ],
)
def test_bad_requests(server, method, path, body, status):
    base, _ = server
    r = httpx.request(method, f"{base}{path}", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    assert isinstance(r.json()["detail"], str)


def test_admin_auth_and_failed_load_keeps_serving(server):
    base, source = server
    url = f"{base}/v1/admin/reload"
    assert httpx.post(url, headers={"authorization": "Bearer wrong"}).status_code == 401
    assert httpx.post(url, headers={"authorization": "Basic czNjcmV0"}).status_code == 401
    source.version = 3  # a bundle that fails to load
    r = httpx.post(url, headers={"authorization": "Bearer s3cret"})
    assert r.status_code == 200 and r.json()["changed"] is False and r.json()["version"] == 1
    assert "bad onnx" in r.json()["last_error"] and "v1 keeps serving" in r.json()["last_error"]
    assert post(base, "after-fail", jpeg(bright_frame(9))).json()["model_version"] == 1
    source.version = 1
    assert httpx.post(url, headers={"authorization": "Bearer s3cret"}).json()["last_error"] is None


def test_admin_disabled_without_token(monkeypatch):
    monkeypatch.delenv("PERCEPT_ADMIN_TOKEN", raising=False)
    source = ListSource(models={1: BrightBoxDetector()}, version=None)
    app = create_app(ServiceSettings(poll_interval_s=0), source=source, loader=stub_loader(source))
    with running(app) as base:
        r = httpx.post(f"{base}/v1/admin/reload", headers={"authorization": "Bearer x"})
        assert r.status_code == 403 and "PERCEPT_ADMIN_TOKEN" in r.json()["detail"]
        ready = httpx.get(f"{base}/readyz")
        assert ready.status_code == 503 and "no model version carries alias" in ready.json()["detail"]
        assert post(base, "x", jpeg(bright_frame(5))).status_code == 503


def test_websocket_order_errors_and_subscribers(server):
    base, _ = server
    ws_base = base.replace("http://", "ws://")
    assert post(base, "w1", jpeg(bright_frame(10))).status_code == 200  # the stream exists now

    async def scenario():
        async with websockets.connect(f"{ws_base}/v1/streams/w1/tracks") as sub:
            async with websockets.connect(f"{ws_base}/v1/streams/w1", max_size=None) as ws:
                start = time.time()
                await ws.send(json.dumps({"capture_ts": start}))
                for i in range(6):
                    await ws.send(jpeg(bright_frame(10 + 4 * i)))
                await ws.send(b"garbage")
                await ws.send(jpeg(bright_frame(40)))
                replies = [json.loads(await ws.recv()) for _ in range(8)]
            seen = [json.loads(await asyncio.wait_for(sub.recv(), 10)) for _ in range(7)]
            async with websockets.connect(f"{ws_base}/v1/streams/w1", max_size=None) as ws:
                await ws.send(json.dumps({"capture_ts": 5.0}))
                await ws.send(jpeg(bright_frame(10)))
                backwards = json.loads(await ws.recv())
        return replies, seen, start, backwards

    replies, seen, start, backwards = asyncio.run(scenario())
    assert backwards["status"] == 422 and "not after" in backwards["error"]
    assert [r.get("frame_index") for r in replies] == [1, 2, 3, 4, 5, 6, None, 7]
    assert replies[0]["capture_ts"] == start
    assert replies[6]["status"] == 415 and "JPEG" in replies[6]["error"]
    assert [m["frame_index"] for m in seen] == [1, 2, 3, 4, 5, 6, 7]


def test_websocket_unknown_stream_is_404(server):
    base, _ = server

    async def connect():
        async with websockets.connect(base.replace("http://", "ws://") + "/v1/streams/ghost/tracks"):
            pass

    with pytest.raises(websockets.InvalidStatus) as err:
        asyncio.run(connect())
    assert err.value.response.status_code == 404


def test_sse_twin(server):
    base, _ = server
    assert post(base, "e1", jpeg(bright_frame(10))).status_code == 200
    got = []
    with httpx.stream("GET", f"{base}/v1/streams/e1/tracks/sse", timeout=10) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        post(base, "e1", jpeg(bright_frame(12)))
        for line in r.iter_lines():
            if line.startswith("data:"):
                got.append(json.loads(line[5:]))
                break
    assert got[0]["stream_id"] == "e1" and got[0]["frame_index"] == 1


def test_concurrent_streams_share_batches(server):
    base, _ = server

    async def many():
        async with httpx.AsyncClient(timeout=30) as client:
            bodies = [jpeg(bright_frame(10 + i)) for i in range(6)]
            url = f"{base}/v1/streams/b{{}}/frames"
            calls = [client.post(url.format(i), content=b, headers=JPEG) for i, b in enumerate(bodies)]
            return await asyncio.gather(*calls)

    replies = asyncio.run(many())
    assert all(r.status_code == 200 for r in replies)
    assert [r.json()["stream_id"] for r in replies] == [f"b{i}" for i in range(6)]
    metrics = httpx.get(f"{base}/metrics").text
    bigger = [line for line in metrics.splitlines() if line.startswith('percept_batch_size_bucket{le="1.0"}')]
    count = [line for line in metrics.splitlines() if line.startswith("percept_batch_size_count")]
    assert float(bigger[0].split()[-1]) < float(count[0].split()[-1])  # some ORT call saw more than one frame


def test_hot_swap_keeps_track_ids(server):
    base, source = server
    first = post(base, "sw", jpeg(bright_frame(50))).json()
    source.version = 2
    r = httpx.post(f"{base}/v1/admin/reload", headers={"authorization": "Bearer s3cret"})
    assert r.json()["changed"] is True and r.json()["version"] == 2
    second = post(base, "sw", jpeg(bright_frame(53))).json()
    assert (first["model_version"], second["model_version"]) == (1, 2)
    assert second["tracks"][0]["track_id"] == first["tracks"][0]["track_id"]
    assert second["tracks"][0]["score"] == pytest.approx(0.8)
    source.version = 1
    httpx.post(f"{base}/v1/admin/reload", headers={"authorization": "Bearer s3cret"})


def test_pulled_source_and_delete(server, test_data):
    base, _ = server
    clip = next(test_data.glob("vtest_clip.*"))
    r = httpx.post(f"{base}/v1/sources", json={"stream_id": "pull1", "url": str(clip), "realtime": False})
    assert r.status_code == 201, r.text
    dup = httpx.post(f"{base}/v1/sources", json={"stream_id": "pull1", "url": str(clip)})
    assert dup.status_code in (201, 409)
    deadline = time.time() + 60
    while time.time() < deadline:
        info = httpx.get(f"{base}/v1/streams/pull1").json()
        if info["frames"] >= 5:
            break
        time.sleep(0.1)
    assert info["frames"] >= 5 and info["source"]["url"] == str(clip)
    nope = {"stream_id": "pull2", "url": str(test_data / "nope.avi")}
    missing = httpx.post(f"{base}/v1/sources", json=nope)
    assert missing.status_code == 400 and "cannot open source" in missing.json()["detail"]
    assert httpx.delete(f"{base}/v1/streams/pull1").status_code == 204
    assert httpx.get(f"{base}/v1/streams/pull1").status_code == 404


def test_stale_frames_are_dropped_and_reported():
    class Slow(BrightBoxDetector):
        def detect(self, images):
            time.sleep(0.15)
            return super().detect(images)

    source = ListSource(models={1: Slow()}, version=1)
    settings = ServiceSettings(poll_interval_s=0, staleness_budget_ms=100, max_batch=1, batch_window_ms=0)
    with running(create_app(settings, source=source, loader=stub_loader(source))) as base:
        wait_ready(base)

        async def burst():
            async with httpx.AsyncClient(timeout=30) as client:
                body = jpeg(bright_frame(10))
                url = f"{base}/v1/streams/st/frames"
                calls = [client.post(url, content=body, headers=JPEG) for _ in range(5)]
                return await asyncio.gather(*calls)

        codes = [r.status_code for r in asyncio.run(burst())]
        assert 503 in codes and 200 in codes
        after = post(base, "st", jpeg(bright_frame(10))).json()
        assert after["stale"] is True and after["dropped_frames"] == codes.count(503)
        assert post(base, "st", jpeg(bright_frame(10))).json()["stale"] is False
        assert 'percept_dropped_frames_total{reason="stale",stream="st"}' in httpx.get(f"{base}/metrics").text

"""``percept stream`` and the bridge runner against a real uvicorn (test detector)."""

from __future__ import annotations

import asyncio
import json

import cv2
import httpx
import pytest
from typer.testing import CliRunner

from cli.main import app as cli_app
from services.control_bridge.run import run_bridge
from services.perception.app import create_app
from services.perception.settings import ServiceSettings
from tests.services.perception.svc_helpers import (BrightBoxDetector, ListSource, bright_frame, jpeg, running,
                                                  stub_loader, wait_ready)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def base():
    source = ListSource(models={1: BrightBoxDetector()}, version=1)
    app = create_app(ServiceSettings(poll_interval_s=0), source=source, loader=stub_loader(source))
    with running(app) as url:
        wait_ready(url)
        yield url


@pytest.mark.parametrize("ws", [False, True])
def test_percept_stream_writes_annotated_video(base, test_data, tmp_path, ws):
    clip = next(test_data.glob("vtest_clip.*"))
    out = tmp_path / "annotated.mp4"
    args = ["stream", str(clip), "--server", base, "--stream-id", f"cli{int(ws)}", "--out", str(out),
            "--max-frames", "6", "--show", "1", "--no-realtime"] + (["--ws"] if ws else [])
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 0, result.output
    assert "sent 6 frames" in result.output and "0 failed" in result.output
    assert '"schema_version"' in result.output
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 6
    cap.release()


def test_percept_stream_realtime_keeps_source_timing_and_sets_calibration(base, test_data, tmp_path):
    dataset_yaml = tmp_path / "dataset.yaml"
    camera = {"fx": 500.0, "fy": 500.0, "cx": 384.0, "cy": 288.0, "height_m": 1.5, "pitch_rad": 0.0,
              "width": 768, "height": 576}
    dataset_yaml.write_text(json.dumps({"name": "x", "camera": camera}))
    clip = next(test_data.glob("vtest_clip.*"))
    args = ["stream", str(clip), "--server", base, "--stream-id", "rt", "--max-frames", "5", "--show", "0",
            "--calibration", str(dataset_yaml)]
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 0, result.output
    assert "0 failed" in result.output
    assert httpx.get(f"{base}/v1/streams/rt/calibration").json() == camera
    sent = int(result.output.split("sent ")[1].split(" frames")[0])
    assert 1 <= sent <= 5


def test_percept_stream_bad_calibration_is_one_sentence(base, test_data, tmp_path):
    bad = tmp_path / "camera.yaml"
    bad.write_text("fx: -1\n")
    clip = next(test_data.glob("vtest_clip.*"))
    result = CliRunner().invoke(cli_app, ["stream", str(clip), "--server", base, "--calibration", str(bad)])
    assert result.exit_code == 1 and "--calibration" in result.output and "Traceback" not in result.output


def test_percept_stream_bad_source_is_one_sentence(base, tmp_path):
    result = CliRunner().invoke(cli_app, ["stream", str(tmp_path / "missing.mp4"), "--server", base])
    assert result.exit_code == 1 and "Traceback" not in result.output


def test_percept_stream_waits_for_the_model_then_says_why_it_gave_up(test_data):
    clip = next(test_data.glob("vtest_clip.*"))
    source = ListSource(models={}, version=None)  # no champion: the service never becomes ready
    app = create_app(ServiceSettings(poll_interval_s=0), source=source, loader=stub_loader(source))
    with running(app) as url:
        result = CliRunner().invoke(cli_app, ["stream", str(clip), "--server", url, "--wait", "0.5"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "no model ready after 0.5 s" in result.output


def test_percept_stream_to_nothing_is_one_sentence(test_data):
    from services.perception.testing import free_port

    clip = next(test_data.glob("vtest_clip.*"))
    server = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(cli_app, ["stream", str(clip), "--server", server, "--wait", "0.3"])
    assert result.exit_code == 1 and "nothing answers" in result.output and "Traceback" not in result.output


def test_bridge_runner_emits_warning_for_approaching_lead(base):
    calib = {"fx": 300.0, "fy": 300.0, "cx": 160.0, "cy": 120.0, "height_m": 1.5, "pitch_rad": 0.0,
             "width": 320, "height": 240}
    assert httpx.put(f"{base}/v1/streams/br/calibration", json=calib).status_code == 200
    lines: list[str] = []

    async def scenario():
        bridge = asyncio.create_task(run_bridge(base, "br", emit=lines.append, max_messages=10))
        await asyncio.sleep(0.5)
        async with httpx.AsyncClient() as client:
            for i in range(10):  # a box whose bottom comes down the image fast: range shrinks, TTC short
                ts = 100.0 + 0.1 * i
                body = jpeg(bright_frame(140, y=60 + 8 * i))
                headers = {"content-type": "image/jpeg", "x-capture-ts": str(ts)}
                await client.post(f"{base}/v1/streams/br/frames", content=body, headers=headers)
        return await asyncio.wait_for(bridge, 30)

    assert asyncio.run(scenario()) == 10
    events = [json.loads(line)["event"] for line in lines]
    assert events[0] == "warning_on"

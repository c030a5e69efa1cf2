"""The real thing: a bundle registered in MLflow (sqlite), served with onnxruntime, hot-swapped by an
alias move while frames keep flowing: no request fails and track IDs continue."""

from __future__ import annotations

import asyncio
import shutil
import time

import cv2
import httpx
import pytest

from services.perception.app import create_app
from services.perception.settings import ServiceSettings
from services.perception.testing import untrained_bundle
from tests.services.perception.svc_helpers import running, wait_ready

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def registry_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("svc-home")
    mp = pytest.MonkeyPatch()
    mp.setenv("PERCEPT_HOME", str(home))
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    from registry.bundles import register_bundle
    from registry.ledger import move_alias

    bundle = untrained_bundle(home / "b1", seed=0, input_size=160)
    v1 = register_bundle(bundle, tags={"data_md5": "abc"}).version
    bundle2 = home / "b2"
    shutil.copytree(bundle, bundle2)  # same graph, a new version: what a promotion looks like to the service
    v2 = register_bundle(bundle2, tags={"data_md5": "def"}).version
    move_alias("percept-detector", "champion", v1, actor="tests", reason="first")
    yield home, v1, v2, move_alias
    mp.undo()


def test_serve_from_registry_and_swap_under_load(registry_home, test_data):
    home, v1, v2, move_alias = registry_home
    clip = next(test_data.glob("vtest_clip.*"))
    cap = cv2.VideoCapture(str(clip))
    frames = [cap.read()[1] for _ in range(24)]
    cap.release()
    bodies = [cv2.imencode(".jpg", f)[1].tobytes() for f in frames]
    settings = ServiceSettings(poll_interval_s=0.2, admin_token="t")
    with running(create_app(settings)) as base:
        wait_ready(base, version=v1)
        model = httpx.get(f"{base}/v1/model").json()
        assert model["lineage"]["data_md5"] == "abc" and model["class_names"]

        async def stream(sid: str, n: int):
            out = []
            async with httpx.AsyncClient(timeout=60) as client:
                for i in range(n):
                    r = await client.post(f"{base}/v1/streams/{sid}/frames", content=bodies[i],
                                          headers={"content-type": "image/jpeg"})
                    out.append((r.status_code, r.json()))
                    if i == 3 and sid == "a":
                        await asyncio.to_thread(move_alias, "percept-detector", "champion", v2, actor="tests",
                                                reason="swap")
                        swapped_at[0] = time.time()
                    await asyncio.sleep(0.05)
            return out

        swapped_at = [0.0]

        async def both():
            return await asyncio.gather(stream("a", 24), stream("b", 24))

        a, b = asyncio.run(both())
        codes = [c for c, _ in a + b]
        assert codes.count(200) == len(codes), [m for c, m in a + b if c != 200][:3]
        versions = [m["model_version"] for _, m in a]
        assert versions[0] == v1 and versions[-1] == v2 and sorted(versions) == versions
        ids_before = {t["track_id"] for _, m in a[:4] for t in m["tracks"]}
        ids_after = {t["track_id"] for _, m in a if m["model_version"] == v2 for t in m["tracks"]}
        # Same graph on the same frames: the tracker keeps following the same objects with the same IDs.
        assert ids_before and ids_before & ids_after
        assert httpx.get(f"{base}/v1/model").json()["version"] == v2

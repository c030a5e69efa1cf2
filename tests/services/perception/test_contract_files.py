"""The committed contract files are what the code generates.

Regenerate with ``python -m services.perception.openapi``.
"""

from __future__ import annotations

import json

import pytest

from services.perception.messages import PerceptionMessage
from services.perception.openapi import OPENAPI_PATH, SCHEMA_PATH, openapi_text, schema_text


@pytest.mark.parametrize("path, generate", [(OPENAPI_PATH, openapi_text), (SCHEMA_PATH, schema_text)])
def test_committed_file_is_current(path, generate):
    assert path.read_text() == generate(), f"{path} is stale: run python -m services.perception.openapi"


def test_openapi_lists_every_route():
    paths = set(json.loads(OPENAPI_PATH.read_text())["paths"])
    assert {
        "/healthz", "/readyz", "/metrics", "/v1/model", "/v1/admin/reload", "/v1/streams/{stream_id}/frames",
        "/v1/sources", "/v1/sources/{stream_id}", "/v1/streams/{stream_id}/tracks/sse",
        "/v1/streams/{stream_id}/calibration",
    } <= paths


GOOD = {"schema_version": "1.0", "stream_id": "a", "frame_index": 0, "capture_ts": 1.0, "publish_ts": 1.1,
        "latency_ms": 100.0, "stale": False, "dropped_frames": 0, "model_version": 3, "image_width": 64,
        "image_height": 48, "tracks": [{"track_id": 1, "class_name": "car", "score": 0.5,
                                        "bbox_xyxy": [0, 0, 1, 1], "velocity_px_s": [0, 0], "range_m": None,
                                        "closing_speed_mps": None, "ttc_s": None}]}


@pytest.mark.parametrize(
    "change, error",
    [
        ({}, None),
        ({"tracks": []}, None),
        ({"schema_version": "2.0"}, "schema_version"),
        ({"frame_index": -1}, "frame_index"),
        ({"stream_id": ""}, "stream_id"),
        ({"surprise": 1}, "surprise"),
        ({"tracks": [{"track_id": 1}]}, "class_name"),
    ],
)
def test_message_validation(change, error):
    data = {**GOOD, **change}
    if error is None:
        assert PerceptionMessage.model_validate(data).model_dump(mode="json") == data
    else:
        with pytest.raises(ValueError, match=error):
            PerceptionMessage.model_validate(data)

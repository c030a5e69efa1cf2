"""Body/media checks, settings validation and source URIs: pure functions, no server."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from services.perception.imaging import decode_image, media_kind, read_limited
from services.perception.pipeline import FrameRejected
from services.perception.pulled import check_uri
from services.perception.settings import ServiceSettings, settings_from_params

from tests.services.perception.svc_helpers import bright_frame, jpeg, png

JPG, PNG = jpeg(bright_frame(10)), png(bright_frame(10))


def _claim_size(data: bytes, kind: str, width: int, height: int) -> bytes:
    """The same bytes with the header claiming another size (a decompression-bomb stand-in)."""
    b = bytearray(data)
    if kind == "png":
        b[16:24] = width.to_bytes(4, "big") + height.to_bytes(4, "big")
        return bytes(b)
    i = b.index(b"\xff\xc0")
    b[i + 5 : i + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(b)


@pytest.mark.parametrize(
    "data, kind, status",
    [
        (JPG, "jpeg", None),
        (PNG, "png", None),
        (JPG, None, None),
        (b"", "jpeg", 400),
        (JPG[: len(JPG) // 2], "jpeg", 400),
        (PNG[: len(PNG) // 2], "png", 400),
        (JPG[:20] + b"\x00" * 200 + b"\xff\xd9", "jpeg", 400),
        (b"hello world", "jpeg", 400),
        (b"hello world", None, 415),
        (PNG, "jpeg", 400),
        (_claim_size(PNG, "png", 50_000, 50_000), "png", 413),
        (_claim_size(JPG, "jpeg", 60_000, 60_000), "jpeg", 413),
    ],
)
def test_decode_image(data, kind, status):
    if status is None:
        image = decode_image(data, kind)
        assert image.shape == (240, 320, 3) and image.dtype == np.uint8
    else:
        with pytest.raises(FrameRejected) as err:
            decode_image(data, kind)
        assert err.value.status == status and str(err.value)


@pytest.mark.parametrize(
    "content_type, expected",
    [
        ("image/jpeg", "jpeg"),
        ("image/png; q=1", "png"),
        ("IMAGE/JPEG", "jpeg"),
        (None, 415),
        ("text/plain", 415),
        ("application/octet-stream", 415),
    ],
)
def test_media_kind(content_type, expected):
    if isinstance(expected, str):
        assert media_kind(content_type) == expected
    else:
        with pytest.raises(FrameRejected) as err:
            media_kind(content_type)
        assert err.value.status == expected


async def _chunks(parts):
    for p in parts:
        yield p


@pytest.mark.parametrize(
    "declared, parts, limit, status",
    [
        (None, [], 10, None),
        ("5", [b"12345"], 10, None),
        ("11", [b"x"], 10, 413),
        (None, [b"123456", b"78901"], 10, 413),
        ("abc", [b"x"], 10, 400),
    ],
)
def test_read_limited(declared, parts, limit, status):
    run = lambda: asyncio.run(read_limited(declared, _chunks(parts), limit))  # noqa: E731
    if status is None:
        assert run() == b"".join(parts)
    else:
        with pytest.raises(FrameRejected) as err:
            run()
        assert err.value.status == status


@pytest.mark.parametrize(
    "uri, roots, expected",
    [
        ("rtsp://cam/1", (), ("rtsp://cam/1", False)),
        ("https://x/v.mp4", (), ("https://x/v.mp4", False)),
        ("/data/v.avi", ("/data",), ("/data/v.avi", True)),
        ("file:///data/v.avi", ("/data",), ("/data/v.avi", True)),
        ("/data/../etc/passwd", ("/data",), 403),
        ("/etc/passwd", ("/data",), 403),
        ("/data/v.avi", (), 403),
        ("ftp://x/v", ("/data",), 400),
    ],
)
def test_check_uri(uri, roots, expected):
    if isinstance(expected, tuple):
        assert check_uri(uri, roots) == expected
    else:
        with pytest.raises(FrameRejected) as err:
            check_uri(uri, roots)
        assert err.value.status == expected


@pytest.mark.parametrize(
    "values, error",
    [
        ({}, None),
        ({"batch_window_ms": 5, "max_batch": 4}, None),
        ({"max_batch": 0}, "max_batch"),
        ({"staleness_budget_ms": 0}, "staleness_budget_ms"),
        ({"max_body_bytes": 10}, "max_body_bytes"),
        ({"no_such_knob": 1}, "no_such_knob"),
        ({"calibrations": {"a": {"fx": 1}}}, None),
    ],
)
def test_settings(values, error):
    if error is None:
        s = settings_from_params({"service": values})
        assert isinstance(s, ServiceSettings)
        for k, v in values.items():
            assert (dict(getattr(s, k)) if k == "calibrations" else getattr(s, k)) == (
                {"a": {"fx": 1}} if k == "calibrations" else v)
    else:
        with pytest.raises(ValueError, match=error):
            settings_from_params({"service": values})


@pytest.mark.parametrize(
    "env, configured, expected",
    [(None, None, None), ("t1", None, "t1"), ("t1", "t2", "t2"), ("", None, None)],
)
def test_admin_token(monkeypatch, env, configured, expected):
    monkeypatch.delenv("PERCEPT_ADMIN_TOKEN", raising=False)
    if env is not None:
        monkeypatch.setenv("PERCEPT_ADMIN_TOKEN", env)
    assert ServiceSettings(admin_token=configured).resolved_admin_token() == expected

"""Request bodies -> images: size limit before reading, media type, and corrupt/truncated checks."""

from __future__ import annotations

from typing import AsyncIterator

import cv2
import numpy as np

from services.perception.pipeline import FrameRejected

MAX_PIXELS = 4096 * 4096
"""Largest decoded image (width * height): a small compressed body can expand to gigabytes."""
MEDIA_TYPES = {"image/jpeg": "jpeg", "image/jpg": "jpeg", "image/png": "png"}
_MAGIC = {"jpeg": b"\xff\xd8\xff", "png": b"\x89PNG\r\n\x1a\n"}


def media_kind(content_type: str | None) -> str:
    """'jpeg' or 'png' from a Content-Type header; anything else is 415."""
    base = (content_type or "").split(";")[0].strip().lower()
    if base not in MEDIA_TYPES:
        raise FrameRejected(415, f"unsupported media type {base or '(none)'!r}: send image/jpeg or image/png")
    return MEDIA_TYPES[base]


async def read_limited(declared_length: str | None, chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """The whole body, refusing (413) as soon as the declared or received size passes ``limit``."""
    if declared_length is not None:
        try:
            declared = int(declared_length)
        except ValueError:
            raise FrameRejected(400, f"Content-Length {declared_length!r} is not a number") from None
        if declared > limit:
            raise FrameRejected(413, f"body of {declared} bytes exceeds the limit of {limit} bytes")
    parts, size = [], 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise FrameRejected(413, f"body exceeds the limit of {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


def sniff_kind(data: bytes) -> str | None:
    for kind, magic in _MAGIC.items():
        if data.startswith(magic):
            return kind
    return None


def image_size(data: bytes, kind: str) -> tuple[int, int] | None:
    """(width, height) read from the PNG IHDR or the JPEG SOF header without decoding; None if not found."""
    if kind == "png":
        if len(data) < 24:
            return None
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return int.from_bytes(data[i + 7 : i + 9], "big"), int.from_bytes(data[i + 5 : i + 7], "big")
        i += 2 + length
    return None


def decode_image(data: bytes, kind: str | None = None) -> np.ndarray:
    """(H, W, 3) uint8 BGR from JPEG/PNG bytes; empty, corrupt or truncated data is 400.

    ``kind`` None (WebSocket frames carry no header) means: recognise it by its magic bytes.
    OpenCV decodes a truncated JPEG into a half-grey image without complaint, so the end markers
    (JPEG EOI, PNG IEND) are checked first.
    """
    if not data:
        raise FrameRejected(400, "empty image: the body has no bytes")
    found = sniff_kind(data)
    if found is None:
        raise FrameRejected(400 if kind else 415, "the body is neither a JPEG nor a PNG image")
    if kind is not None and found != kind:
        raise FrameRejected(400, f"the body is a {found.upper()} but Content-Type says {kind.upper()}")
    tail = data[-12:]
    if (found == "jpeg" and b"\xff\xd9" not in tail) or (found == "png" and b"IEND" not in tail):
        raise FrameRejected(400, f"truncated {found.upper()}: the image's end marker is missing")
    size = image_size(data, found)
    if size is not None and size[0] * size[1] > MAX_PIXELS:
        raise FrameRejected(
            413, f"image of {size[0]}x{size[1]} pixels exceeds the limit of {MAX_PIXELS} pixels"
        )
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None or image.ndim != 3 or image.shape[2] != 3 or image.size == 0:
        raise FrameRejected(400, f"corrupt {found.upper()}: it could not be decoded")
    return image


def encode_jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"could not encode an image of shape {image.shape} as JPEG")
    return buf.tobytes()

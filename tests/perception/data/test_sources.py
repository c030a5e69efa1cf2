"""Frame sources on the vtest clip (40 frames, 768x576, 10 fps), image folders and a local HTTP server."""

from __future__ import annotations

import functools
import io
import re
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

from perception.data.sources import SourceError, open_source

CLIP_FRAMES, CLIP_SIZE = 40, (768, 576)


def test_video_file(test_data):
    with open_source(test_data / "vtest_clip.mp4", stream_id="cam1") as src:
        assert src.fps == 10.0 and src.size == CLIP_SIZE
        frames = list(src)
    assert len(frames) == CLIP_FRAMES and src.skipped == 0
    assert [f.index for f in frames] == list(range(CLIP_FRAMES))
    t = np.array([f.timestamp for f in frames])
    assert t[0] == 0.0 and (np.diff(t) > 0).all()
    np.testing.assert_allclose(t, np.arange(CLIP_FRAMES) / 10.0, atol=1e-6)  # video time, not wall time
    assert {f.image.shape for f in frames} == {(576, 768, 3)} and {f.stream_id for f in frames} == {"cam1"}


def test_close_stops_iteration(test_data):
    src = open_source(str(test_data / "vtest_clip.mp4"))
    assert next(src).index == 0
    src.close()
    assert list(src) == []


def _small_avi(path: Path, n: int) -> None:
    rng = np.random.default_rng(0)
    writer = cv2.VideoWriter(str(path), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for _ in range(n):
        writer.write(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    writer.release()


@pytest.mark.parametrize("broken", [[], [5], [3, 6], [0]])
def test_corrupt_frames_mid_stream_are_skipped_and_counted(tmp_path, broken):
    path = tmp_path / "clip.avi"
    _small_avi(path, 10)
    data = bytearray(path.read_bytes())
    starts = [m.start() for m in re.finditer(b"\xff\xd8", data)]  # one JPEG per frame
    assert len(starts) == 10
    for i in broken:  # blank the frame's JPEG data, keep the AVI chunk so the demuxer goes on
        data[starts[i] : starts[i + 1] - 8] = bytes(starts[i + 1] - 8 - starts[i])
    path.write_bytes(bytes(data))
    with open_source(path) as src:
        frames = list(src)
    assert src.skipped == len(broken)
    assert [f.index for f in frames] == [i for i in range(10) if i not in broken]
    assert (np.diff([f.timestamp for f in frames]) > 0).all()


def _image_folder(root: Path, names: list[str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for k, name in enumerate(names):
        image = np.full((24, 32, 3), k * 10, np.uint8)
        cv2.imwrite(str(root / name), image)
    return root


@pytest.mark.parametrize(
    "names, fps, seqinfo_rate, expect_fps, expect_values",
    [
        (["b.png", "a.jpg", "c.jpeg"], None, None, 10.0, [10, 0, 20]),  # sorted by name: a, b, c
        (["000001.jpg", "000002.jpg"], 4.0, None, 4.0, [0, 10]),
        (["000001.jpg", "000002.jpg"], None, 25, 25.0, [0, 10]),  # from seqinfo.ini beside it
        (["000001.jpg", "000002.jpg"], 5.0, 25, 5.0, [0, 10]),  # the argument wins
    ],
)
def test_image_folder(tmp_path, names, fps, seqinfo_rate, expect_fps, expect_values):
    folder = _image_folder(tmp_path / "seq" / "img1", names)
    (folder / "notes.txt").write_text("not an image")
    if seqinfo_rate:
        (tmp_path / "seq" / "seqinfo.ini").write_text(
            f"[Sequence]\nname=seq\nframeRate={seqinfo_rate}\nseqLength={len(names)}\nimWidth=32\nimHeight=24\n"
        )
    with open_source(folder, fps=fps) as src:
        frames = list(src)
    assert src.fps == expect_fps and src.size == (32, 24) and src.skipped == 0
    assert [int(f.image[0, 0, 0]) for f in frames] == expect_values
    assert [f.timestamp for f in frames] == pytest.approx([i / expect_fps for i in range(len(names))])


def test_sequence_folder_uses_its_img_dir(tmp_path):
    _image_folder(tmp_path / "seq" / "img1", ["000001.jpg", "000002.jpg", "000003.jpg"])
    (tmp_path / "seq" / "seqinfo.ini").write_text(
        "[Sequence]\nname=seq\nimDir=img1\nframeRate=30\nseqLength=3\nimWidth=32\nimHeight=24\n"
    )
    with open_source(tmp_path / "seq") as src:
        assert src.fps == 30.0 and len(list(src)) == 3


def test_image_folder_skips_corrupt_and_odd_sized(tmp_path):
    folder = _image_folder(tmp_path / "imgs", ["1.jpg", "3.jpg", "5.jpg"])
    (folder / "0.jpg").write_bytes(b"garbage")  # before the first good one
    (folder / "2.jpg").write_bytes(b"\xff\xd8 truncated")
    cv2.imwrite(str(folder / "4.png"), np.zeros((10, 10, 3), np.uint8))  # another size
    with open_source(folder) as src:
        frames = list(src)
    assert [f.index for f in frames] == [1, 3, 5] and src.skipped == 3


class _RangeHandler(SimpleHTTPRequestHandler):
    """Static files with byte ranges (FFmpeg seeks to an mp4's index; http.server alone cannot)."""

    def log_message(self, *args: object) -> None:
        pass

    def send_head(self):  # type: ignore[override]
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        path = Path(self.translate_path(self.path))
        if match is None or not path.is_file():
            return super().send_head()
        data = path.read_bytes()
        start, end = int(match[1]), int(match[2] or len(data) - 1)
        self.send_response(206)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        return io.BytesIO(data[start : end + 1])


@pytest.fixture
def http_clip(test_data, tmp_path):
    shutil.copyfile(test_data / "vtest_clip.mp4", tmp_path / "clip.mp4")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_RangeHandler, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_http_url(http_clip):
    with open_source(f"{http_clip}/clip.mp4", stream_id="net") as src:
        assert src.size == CLIP_SIZE and src.fps == 10.0
        frames = list(src)
    assert len(frames) == CLIP_FRAMES and src.skipped == 0
    t = np.array([f.timestamp for f in frames])
    assert t[0] > 1.6e9 and (np.diff(t) >= 0).all()  # wall-clock epoch seconds


def test_http_url_not_found(http_clip):
    with pytest.raises(SourceError, match="cannot open as a stream"):
        open_source(f"{http_clip}/missing.mp4")


def _unused_port() -> int:
    server = ThreadingHTTPServer(("127.0.0.1", 0), SimpleHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()
    return port


@pytest.mark.parametrize(
    "make, error",
    [
        (lambda p: p / "missing.mp4", "missing.mp4: no such file or folder"),
        (lambda p: _write(p / "fake.mp4", b"this is not a video"), "fake.mp4: cannot open as a video"),
        (lambda p: _write(p / "empty.avi", b""), "empty.avi: cannot open as a video"),
        (lambda p: _mkdir(p / "empty"), "empty: no .jpg or .png images in this folder"),
        (lambda p: _write(_mkdir(p / "bad") / "x.jpg", b"junk").parent, "bad: none of the 1 images can be decoded"),
        (lambda p: f"http://127.0.0.1:{_unused_port()}/x.mp4", "cannot open as a stream"),
        (lambda p: f"rtsp://127.0.0.1:{_unused_port()}/cam", "cannot open as a stream"),
    ],
)
def test_unreadable_sources_fail_at_open(tmp_path, make, error):
    with pytest.raises(SourceError, match=error):
        open_source(make(tmp_path))


def test_source_error_is_a_value_error():
    assert issubclass(SourceError, ValueError)


@pytest.mark.parametrize("fps", [0, -1.0, float("nan")])
def test_bad_fps(test_data, fps):
    with pytest.raises(ValueError, match="fps must be finite and > 0"):
        open_source(test_data / "vtest_clip.mp4", fps=fps)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path

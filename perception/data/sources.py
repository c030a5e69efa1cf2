"""Frame sources: a video file, a folder of images, or a network stream, as ``Frame`` iterators.

``open_source(uri)`` picks the kind from the URI and opens it at once, so an unreadable source
fails there with ``SourceError`` (one sentence), not on the first ``next()``. Every source is an
iterator of ``Frame`` and a context manager, and knows its nominal ``fps`` and ``size``.

Timestamps (``Frame.timestamp``, seconds):
- video file: video time from the container (``CAP_PROP_POS_MSEC``); index / fps where the
  container gives none or goes backwards;
- image folder: index / fps (fps from the argument, else ``seqinfo.ini`` beside the images,
  else 10);
- RTSP / HTTP(S) stream: wall-clock time when the frame was read (epoch seconds).

``Frame.index`` is the frame's position in the source, so a frame that cannot be decoded leaves a
gap: it is skipped and counted in ``.skipped`` instead of ending the stream.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from perception.data.mot import SeqInfo, read_seqinfo
from perception.types import Frame

PathLike = str | os.PathLike[str]
STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
DEFAULT_FPS = 10.0


class SourceError(ValueError):
    """A source that cannot be opened or read at all (the message is one sentence)."""


class FrameSource:
    """Iterator of ``Frame`` from one source; use as a context manager or call ``close()``.

    fps:     nominal frames per second (container / seqinfo / argument / 10, in that order).
    size:    (width, height) in pixels of the first frame; frames of another size are skipped.
    skipped: frames that could not be decoded (or changed size) and were left out so far.
    """

    def __init__(self, *, stream_id: str, fps: float, size: tuple[int, int]) -> None:
        self.stream_id = stream_id
        self.fps = float(fps)
        self.size = size
        self.skipped = 0
        self._closed = False

    def __iter__(self) -> Iterator[Frame]:
        return self

    def __next__(self) -> Frame:
        if self._closed:
            raise StopIteration
        frame = self._next_frame()
        if frame is None:
            self.close()
            raise StopIteration
        return frame

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._closed = True

    def _next_frame(self) -> Frame | None:
        raise NotImplementedError

    def _usable(self, image: np.ndarray | None) -> bool:
        return (
            image is not None
            and image.ndim == 3
            and image.shape[2] == 3
            and image.dtype == np.uint8
            and (image.shape[1], image.shape[0]) == self.size
        )


def open_source(
    uri: str | os.PathLike[str], *, stream_id: str = "0", fps: float | None = None
) -> FrameSource:
    """Open a video file, an image folder, or an RTSP/HTTP(S) URL.

    fps: frame rate for sources that carry none (image folders; containers or streams that
         report 0). It never overrides a rate the source reports.
    Raises ``SourceError`` if the source does not exist, holds no readable frame, or the URL
    cannot be reached.
    """
    if fps is not None and not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be finite and > 0, got {fps!r}")
    text = os.fspath(uri)
    if text.lower().startswith(STREAM_SCHEMES):
        return _CaptureSource(text, stream_id=stream_id, fps=fps, live=True)
    path = Path(text).expanduser()
    if path.is_dir():
        return _FolderSource(path, stream_id=stream_id, fps=fps)
    if not path.is_file():
        raise SourceError(f"{path}: no such file or folder")
    return _CaptureSource(str(path), stream_id=stream_id, fps=fps, live=False)


class _CaptureSource(FrameSource):
    """A video file or a network stream through ``cv2.VideoCapture`` (FFmpeg backend)."""

    # Consecutive failed reads before we call it the end: a corrupt frame fails once, the end of
    # a file fails forever; a stream may drop a few frames during a network hiccup.
    MAX_FAILED_READS = 8
    OPEN_TIMEOUT_MS = 5000
    READ_TIMEOUT_MS = 5000

    def __init__(self, uri: str, *, stream_id: str, fps: float | None, live: bool) -> None:
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, self.OPEN_TIMEOUT_MS,
            cv2.CAP_PROP_READ_TIMEOUT_MSEC, self.READ_TIMEOUT_MS,
        ]
        cap = cv2.VideoCapture(uri, cv2.CAP_FFMPEG, params)
        what = "stream" if live else "video"
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"{uri}: cannot open as a {what} (unreachable, or not a format FFmpeg reads)")
        self._cap, self._live, self._uri = cap, live, uri
        self._position = 0
        self._last_t = -np.inf
        reported = cap.get(cv2.CAP_PROP_FPS)
        nominal = reported if np.isfinite(reported) and 0 < reported < 1000 else (fps or DEFAULT_FPS)
        first = self._read_first()
        if first is None:
            cap.release()
            raise SourceError(f"{uri}: opened as a {what} but no frame could be decoded")
        super().__init__(stream_id=stream_id, fps=nominal, size=(first.shape[1], first.shape[0]))
        self.skipped = self._position  # undecodable frames before the first good one
        self._pending: tuple[np.ndarray, float] | None = (first, self._read_time())

    def _read_first(self) -> np.ndarray | None:
        for _ in range(self.MAX_FAILED_READS):
            ok, image = self._cap.read()
            if ok and image is not None and image.ndim == 3 and image.shape[2] == 3:
                return image
            self._position += 1
        return None

    def _next_frame(self) -> Frame | None:
        if self._pending is not None:
            (image, t), self._pending = self._pending, None
            return self._frame(image, t)
        failed = 0
        while failed < self.MAX_FAILED_READS:
            ok, image = self._cap.read()
            if ok and self._usable(image):
                self.skipped += failed  # only failures followed by a good frame were frames
                return self._frame(image, self._read_time())
            failed += 1
            self._position += 1
        return None

    def _read_time(self) -> float:
        """Timestamp of the frame just read: wall clock for streams, video time for files (NaN: none)."""
        if self._live:
            return time.time()
        return self._cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0

    def _frame(self, image: np.ndarray, t: float) -> Frame:
        index = self._position
        self._position += 1
        if not self._live:
            if not np.isfinite(t) or t <= self._last_t:
                t = index / self.fps
            self._last_t = t
        return Frame(image=image, stream_id=self.stream_id, index=index, timestamp=t)

    def close(self) -> None:
        super().close()
        self._cap.release()


class _FolderSource(FrameSource):
    """Sorted ``.jpg``/``.jpeg``/``.png`` files of a folder (or of a sequence's ``img1``)."""

    def __init__(self, folder: Path, *, stream_id: str, fps: float | None) -> None:
        folder, seq_fps = _image_folder(folder)
        files = sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
        if not files:
            raise SourceError(f"{folder}: no .jpg or .png images in this folder")
        self._files = files
        self._position = 0
        first = None
        while first is None and self._position < len(files):
            first = cv2.imread(str(files[self._position]), cv2.IMREAD_COLOR)
            if first is None:
                self._position += 1
        if first is None:
            raise SourceError(f"{folder}: none of the {len(files)} images can be decoded")
        size = (first.shape[1], first.shape[0])
        super().__init__(stream_id=stream_id, fps=fps or seq_fps or DEFAULT_FPS, size=size)
        self.skipped = self._position
        self._pending: np.ndarray | None = first

    def _next_frame(self) -> Frame | None:
        while self._position < len(self._files):
            index = self._position
            self._position += 1
            if self._pending is not None:
                image, self._pending = self._pending, None
            else:
                image = cv2.imread(str(self._files[index]), cv2.IMREAD_COLOR)
            if self._usable(image):
                return Frame(image=image, stream_id=self.stream_id, index=index, timestamp=index / self.fps)
            self.skipped += 1
        return None


def _image_folder(folder: Path) -> tuple[Path, float | None]:
    """The folder holding the images, and the frame rate of a ``seqinfo.ini`` beside them.

    Accepts a sequence folder (``seq/``: seqinfo.ini inside, images in its ``imDir``) or an image
    folder (``seq/img1/``: seqinfo.ini in the parent, or none).
    """
    inside = folder / "seqinfo.ini"
    if inside.is_file():
        info = _seqinfo(inside)
        if (folder / info.im_dir).is_dir():
            return folder / info.im_dir, float(info.frame_rate)
    beside = folder.parent / "seqinfo.ini"
    if beside.is_file():
        return folder, float(_seqinfo(beside).frame_rate)
    return folder, None


def _seqinfo(path: Path) -> SeqInfo:
    try:
        return read_seqinfo(path)
    except ValueError as exc:
        raise SourceError(f"{path}: unreadable seqinfo.ini ({exc})") from None

"""``percept stream``'s live-camera clock: source timing kept, late frames skipped."""

from __future__ import annotations

import time

import pytest

from cli.serve import _CameraClock


def test_frames_keep_their_spacing_and_are_not_sent_early() -> None:
    clock = _CameraClock(period_s=0.05)
    t0 = clock.capture_time(10.0)
    t1 = clock.capture_time(10.05)
    assert t1 is not None and t1 - t0 == pytest.approx(0.05)
    assert time.time() >= t1  # the clock waited for the frame's capture time


def test_a_frame_more_than_one_period_late_is_skipped() -> None:
    clock = _CameraClock(period_s=0.05)
    clock.capture_time(0.0)
    time.sleep(0.2)
    assert clock.capture_time(0.05) is None  # due 0.15 s ago: the camera has a newer image
    assert clock.capture_time(0.2) is not None

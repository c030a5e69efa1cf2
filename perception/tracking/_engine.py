"""The association loop shared by SORT and ByteTrack (one or two matching stages).

All track state lives in one preallocated (capacity, 17) float64 table owned by the instance:
columns ``0:11`` are the Kalman rows (see ``kalman``), then id, class, last score, hit count,
frames missed and a confirmed flag. A frame costs a fixed few dozen numpy calls whatever the
number of tracks; there are no per-track Python objects.
"""

from __future__ import annotations

import numpy as np

from perception.tracking import kalman
from perception.tracking.matching import iou_matrix, match
from perception.types import Detections, Tracks

KF = slice(0, kalman.COLUMNS)
ID, CLS, SCORE, HITS, MISSES, CONFIRMED = range(kalman.COLUMNS, kalman.COLUMNS + 6)
WIDTH = kalman.COLUMNS + 6
_NONE = np.zeros(0, np.intp)


class AssociationTracker:
    """Kalman-predicted boxes matched to detections by IoU, in one or two score stages.

    Stage 1 matches detections scoring ``>= high_threshold`` to every live track. If
    ``low_threshold < high_threshold``, stage 2 matches detections scoring in
    ``[low_threshold, high_threshold)`` to the tracks left over that were matched in the previous
    frame (ByteTrack). Unmatched high detections scoring ``>= activation_threshold`` start tracks.
    Unconfirmed tracks die on their first miss; confirmed ones after ``lost_track_buffer`` misses.
    """

    def __init__(
        self,
        *,
        high_threshold: float,
        low_threshold: float,
        activation_threshold: float,
        match_iou: float,
        low_match_iou: float,
        lost_track_buffer: int,
        minimum_consecutive_frames: int,
        frame_rate: float,
        position_noise: float,
        velocity_noise: float,
        measurement_noise: float,
    ) -> None:
        self._high = high_threshold
        self._low = low_threshold
        self._two_stage = low_threshold < high_threshold
        self._activation = activation_threshold
        self._match_iou = match_iou
        self._low_match_iou = low_match_iou
        self._buffer = lost_track_buffer
        self._min_hits = minimum_consecutive_frames
        self._frame_rate = float(frame_rate)
        self._q_pos = position_noise
        # Noise in box sizes per second; a new track's velocity is unknown: 10x the process noise.
        self._q_vel = velocity_noise * self._frame_rate
        self._meas_std = measurement_noise
        self._transition_cache: tuple[float, np.ndarray, np.ndarray] | None = None
        self.reset()

    def reset(self) -> None:
        """Forget every track and restart IDs at 1 (e.g. when the stream jumps)."""
        self._table = np.zeros((64, WIDTH))
        self._n = 0
        self._next_id = 1
        self._last_timestamp: float | None = None

    def update(self, detections: Detections, *, timestamp: float | None = None) -> Tracks:
        """Advance one frame; call once per frame, also when ``detections`` is empty.

        detections: boxes ``xyxy`` in image pixels (not modified). timestamp: capture time in
        seconds; without it, frames are taken to be ``1 / frame_rate`` apart. Returns the
        confirmed tracks matched in this frame (coasting tracks are kept but not output): boxes
        Kalman-corrected ``xyxy``, ``score`` of the matched detection, box-centre velocity in px/s.
        """
        n = self._n
        live = self._table[:n]
        dt = self._dt(timestamp)
        if n:
            m, q = self._transition(dt)
            live[:, KF] = live[:, KF] @ m + q
        score = detections.score
        high = (score >= self._high).nonzero()[0]
        track_rows, det_rows, unmatched_high = self._associate(live, detections, high)

        if len(track_rows):
            rows = live[track_rows]
            kalman.correct(rows, detections.xyxy[det_rows], meas_std=self._meas_std)
            rows[:, SCORE] = score[det_rows]
            rows[:, HITS] += 1.0
            rows[:, MISSES] = -1.0  # every row gets +1 below: 0 for the matched ones
            rows[:, CONFIRMED] = rows[:, HITS] >= self._min_hits  # hits only grow: stays confirmed
            live[track_rows] = rows
        if n:
            live[:, MISSES] += 1.0
            dead = live[:, MISSES] > live[:, CONFIRMED] * self._buffer  # unconfirmed: first miss kills
            if dead.any():
                kept = live[~dead]
                n = len(kept)
                self._table[:n] = kept
                self._n = n
        if len(unmatched_high):
            new = unmatched_high[score[unmatched_high] >= self._activation]
            if len(new):
                self._start(detections.xyxy[new], score[new], detections.class_id[new])
        return self._output()

    def _dt(self, timestamp: float | None) -> float:
        last, self._last_timestamp = self._last_timestamp, timestamp
        if timestamp is None or last is None:
            return 1.0 / self._frame_rate
        if timestamp <= last:
            raise ValueError(f"timestamp must increase between frames, got {timestamp} after {last}")
        return timestamp - last

    def _transition(self, dt: float) -> tuple[np.ndarray, np.ndarray]:
        cache = self._transition_cache
        if cache is None or abs(cache[0] - dt) > 1e-9 * dt:  # timestamps jitter in the last bits
            steps = dt * self._frame_rate  # noise accumulates per nominal frame elapsed
            m, q = kalman.transition(
                dt=dt, q_pos=self._q_pos * steps**0.5, q_vel=self._q_vel * steps**0.5
            )
            cache = self._transition_cache = (dt, m, q)
        return cache[1], cache[2]

    def _associate(
        self, live: np.ndarray, detections: Detections, high: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(track rows, detection rows) matched, and the high detections left unmatched."""
        if not len(live):
            return _NONE, _NONE, high
        boxes, classes = live[:, 0:4], live[:, CLS]
        xyxy, det_class = detections.xyxy, detections.class_id
        track_rows, det_rows, unmatched = _NONE, _NONE, high
        if len(high):
            if len(high) < len(xyxy):
                xyxy_high, class_high = xyxy[high], det_class[high]
            else:  # the usual case: every detection is a high one
                xyxy_high, class_high = xyxy, det_class
            sim = iou_matrix(xyxy_high, boxes)
            sim *= class_high[:, None] == classes
            d1, track_rows = match(sim, threshold=self._match_iou)
            det_rows = high[d1]
            if len(d1) == len(high):  # steady state: every high detection continues a track
                unmatched = _NONE
            elif len(d1):
                taken = np.zeros(len(high), bool)
                taken[d1] = True
                unmatched = high[~taken]
        if self._two_stage and len(high) < len(xyxy):  # some detections are below the high threshold
            score = detections.score
            low = ((score >= self._low) & (score < self._high)).nonzero()[0]
            if len(low):
                # Only tracks seen last frame: a low score next to a long-lost track is mostly noise.
                free = live[:, MISSES] == 0
                free[track_rows] = False
                free = free.nonzero()[0]
                if len(free):
                    sim2 = iou_matrix(xyxy[low], boxes[free])
                    sim2 *= det_class[low, None] == classes[free]
                    d2, t2 = match(sim2, threshold=self._low_match_iou)
                    if len(d2):
                        track_rows = np.concatenate((track_rows, free[t2]))
                        det_rows = np.concatenate((det_rows, low[d2]))
        return track_rows, det_rows, unmatched

    def _start(self, xyxy: np.ndarray, score: np.ndarray, class_id: np.ndarray) -> None:
        k, n = len(xyxy), self._n
        if n + k > len(self._table):
            grown = np.zeros((2 * (n + k), WIDTH))
            grown[:n] = self._table[:n]
            self._table = grown
        rows = self._table[n : n + k]
        rows[:, 0:4] = xyxy
        rows[:, 4:8] = 0.0
        rows[:, 8:11] = kalman.initiate(k, pos_std=self._meas_std, vel_std=10.0 * self._q_vel)
        rows[:, ID] = np.arange(self._next_id, self._next_id + k)
        rows[:, CLS] = class_id
        rows[:, SCORE] = score
        rows[:, HITS] = 1.0
        rows[:, MISSES] = 0.0
        rows[:, CONFIRMED] = 1.0 if self._min_hits <= 1 else 0.0
        self._next_id += k
        self._n = n + k

    def _output(self) -> Tracks:
        live = self._table[: self._n]
        # misses >= 0 and confirmed in {0, 1}: "misses < confirmed" means matched now and confirmed.
        out = live[live[:, MISSES] < live[:, CONFIRMED]]
        # Output boxes are never inverted: a matched track's predicted box overlapped its detection
        # (IoU > 0 needs x1 < x2, y1 < y2) and the correction is a convex combination of the two.
        # Every array below is fresh and of its final dtype, so Tracks need not copy or re-check it.
        corners = out[:, 4:8].astype(np.float32)  # velocities of (x1, y1) and (x2, y2)
        velocity = corners[:, 0:2] + corners[:, 2:4]  # box-centre velocity = their mean
        velocity *= 0.5
        return Tracks._trusted(
            xyxy=out[:, 0:4].astype(np.float32),
            score=out[:, SCORE].astype(np.float32),
            class_id=out[:, CLS].astype(np.int64),
            track_id=out[:, ID].astype(np.int64),
            velocity=velocity,
        )

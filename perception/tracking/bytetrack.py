"""ByteTrack: high-score detections first, then low-score ones against the tracks left over.

Low-score detections are mostly occluded or blurred objects; matching them only to tracks that
were visible a frame ago keeps those tracks alive through partial occlusion without letting
low-score clutter start tracks. Written for percept after Zhang et al., "ByteTrack" (ECCV 2022).
"""

from __future__ import annotations

from dataclasses import dataclass

from perception.tracking._checks import check_count, check_fraction, check_positive
from perception.tracking._engine import AssociationTracker


@dataclass(frozen=True)
class ByteTrackConfig:
    """ByteTrack parameters (``params.yaml: tracker``). Scores are detector confidences in [0, 1].

    Defaults: one set tuned once on six MOT15 training sequences with their published Faster R-CNN
    detections (``python -m bench.trackers``), all of which score >= 0.5. A detector whose scores
    run lower should lower the score thresholds in ``params.yaml``.
    """

    detection_threshold: float = 0.6
    """Detections scoring at least this go to stage 1 (all tracks). Raising it leaves more of the
    detections to the weaker stage 2 (fewer false matches, more coasting); lowering it lets
    cluttered detections compete with good ones for tracks."""

    low_detection_threshold: float = 0.1
    """Detections below this are ignored. Those in ``[low, detection_threshold)`` may only extend
    tracks seen in the previous frame. Lowering it rescues more occluded objects but feeds noise
    into the tracks; setting it equal to ``detection_threshold`` turns stage 2 off."""

    track_activation_threshold: float = 0.9
    """An unmatched stage-1 detection must score at least this to start a track. Raising it gives
    fewer false tracks and later starts; lowering it starts tracks on weaker evidence."""

    minimum_matching_threshold: float = 0.3
    """Minimum IoU between a predicted track box and a stage-1 detection to match. Raising it
    avoids identity swaps between neighbours but loses fast or erratically moving objects."""

    low_matching_threshold: float = 0.5
    """Minimum IoU in stage 2. Kept stricter than stage 1 because low-score boxes are less trustworthy."""

    lost_track_buffer: int = 30
    """Frames a confirmed track may go unmatched before it is dropped. Raising it bridges longer
    occlusions (same ID afterwards) but keeps stale tracks that can steal detections."""

    minimum_consecutive_frames: int = 2
    """Consecutive matched frames before a track is confirmed and output. Raising it suppresses
    short false tracks at the cost of reporting every object that many frames later."""

    frame_rate: float = 30.0
    """Frames per second, used for velocity in px/s and the time step when ``update`` is called
    without a timestamp. Set it to the stream's rate."""

    position_noise: float = 0.05
    """Process noise on position and size, as a fraction of the box size per frame. Raising it
    makes tracks follow detections more closely (jitter included); lowering it smooths more but
    lags behind manoeuvres."""

    velocity_noise: float = 0.0125
    """Process noise on velocity, as a fraction of the box size per frame per frame. Raising it
    adapts faster to speed changes; lowering it trusts constant velocity through occlusions."""

    measurement_noise: float = 0.1
    """Detection box noise, as a fraction of the box size. Raising it trusts the motion model
    more than each detection (smoother, slower to react)."""

    def __post_init__(self) -> None:
        check_fraction(self, "detection_threshold", "low_detection_threshold", "track_activation_threshold")
        check_fraction(self, "minimum_matching_threshold", "low_matching_threshold", allow_zero=False)
        check_count(self, "lost_track_buffer", 0)
        check_count(self, "minimum_consecutive_frames", 1)
        check_positive(self, "frame_rate", "position_noise", "velocity_noise", "measurement_noise")
        if self.low_detection_threshold > self.detection_threshold:
            raise ValueError(
                f"ByteTrackConfig.low_detection_threshold ({self.low_detection_threshold}) must be <= "
                f"detection_threshold ({self.detection_threshold})"
            )


class ByteTrackTracker(AssociationTracker):
    """One instance per stream: ``update(detections, timestamp=...)`` once per frame, ``reset()``."""

    def __init__(self, *, config: ByteTrackConfig | None = None) -> None:
        self.config = config if config is not None else ByteTrackConfig()
        c = self.config
        super().__init__(
            high_threshold=c.detection_threshold,
            low_threshold=c.low_detection_threshold,
            activation_threshold=max(c.track_activation_threshold, c.detection_threshold),
            match_iou=c.minimum_matching_threshold,
            low_match_iou=c.low_matching_threshold,
            lost_track_buffer=c.lost_track_buffer,
            minimum_consecutive_frames=c.minimum_consecutive_frames,
            frame_rate=c.frame_rate,
            position_noise=c.position_noise,
            velocity_noise=c.velocity_noise,
            measurement_noise=c.measurement_noise,
        )

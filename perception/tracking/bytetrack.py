"""ByteTrack: high-score detections first, then low-score ones against the tracks left over.

Low-score detections are mostly occluded or blurred objects; matching them only to tracks that
were visible a frame ago keeps those tracks alive through partial occlusion without letting
low-score clutter start tracks. Written for percept after Zhang et al., "ByteTrack" (ECCV 2022).
"""

from __future__ import annotations

from dataclasses import dataclass

from perception.tracking._checks import check_fraction
from perception.tracking._config import MotionConfig
from perception.tracking._engine import AssociationTracker


@dataclass(frozen=True)
class ByteTrackConfig(MotionConfig):
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

    low_matching_threshold: float = 0.5
    """Minimum IoU in stage 2. Kept stricter than stage 1 because low-score boxes are less trustworthy."""

    lost_track_buffer: int = 30
    """As in ``MotionConfig``; longer than SORT's because the low-score stage keeps coasting
    tracks matchable, so bridging them pays off more."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_fraction(self, "detection_threshold", "low_detection_threshold", "track_activation_threshold")
        check_fraction(self, "low_matching_threshold", allow_zero=False)
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
            low_match_iou=c.low_matching_threshold,
            **c.motion_kwargs(),
        )

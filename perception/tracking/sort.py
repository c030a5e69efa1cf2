"""SORT: Kalman-predicted boxes matched to detections by IoU with the Hungarian algorithm, one stage.

Written for percept after Bewley et al., "Simple Online and Realtime Tracking" (ICIP 2016).
"""

from __future__ import annotations

from dataclasses import dataclass

from perception.tracking._checks import check_fraction
from perception.tracking._config import MotionConfig
from perception.tracking._engine import AssociationTracker


@dataclass(frozen=True)
class SortConfig(MotionConfig):
    """SORT parameters (``params.yaml: tracker``). Scores are detector confidences in [0, 1].

    Defaults: one set tuned once on six MOT15 training sequences with their published Faster R-CNN
    detections (``python -m bench.trackers``), all of which score >= 0.5. A detector whose scores
    run lower should lower the score thresholds in ``params.yaml``.
    """

    detection_threshold: float = 0.7
    """Detections scoring below this are ignored; the others are matched and start tracks.
    Raising it removes clutter but loses weakly detected (often occluded) objects."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_fraction(self, "detection_threshold")


class SortTracker(AssociationTracker):
    """One instance per stream: ``update(detections, timestamp=...)`` once per frame, ``reset()``."""

    def __init__(self, *, config: SortConfig | None = None) -> None:
        self.config = config if config is not None else SortConfig()
        c = self.config
        super().__init__(
            high_threshold=c.detection_threshold,
            low_threshold=c.detection_threshold,  # equal thresholds: no second stage
            activation_threshold=c.detection_threshold,
            low_match_iou=c.minimum_matching_threshold,
            **c.motion_kwargs(),
        )

"""What a synthetic scene may contain: classes, scenarios and the typed ``SceneConfig``."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

CLASSES = ("car", "pedestrian", "cyclist")  # class_id 0, 1, 2; gt.txt column 8 is class_id + 1
CAR, PEDESTRIAN, CYCLIST = range(3)

# mixed: background traffic plus each event below at random (the default, for training).
# lead_brake: the car ahead in the ego lane brakes hard. cut_in: a car from the next lane
# moves into the ego lane close ahead. ped_crossing: pedestrians cross the road ahead.
SCENARIOS = ("mixed", "lead_brake", "cut_in", "ped_crossing")

_RANGE_FIELDS = (
    "ego_speed_mps", "car_speed_mps", "oncoming_speed_mps", "pedestrian_speed_mps",
    "cyclist_speed_mps", "brightness_gain", "brightness_bias", "noise_sigma",
)


@dataclass(frozen=True)
class SceneConfig:
    """Defaults for a plausible suburban drive; ``(lo, hi)`` pairs are drawn per sequence or object.

    width, height: image size, pixels. fps: frame rate; lower fps means larger motion per frame
        (harder tracking), higher fps means more near-duplicate frames per second of data.
    scenario: one of ``SCENARIOS``.
    lanes, lane_width_m, ego_lane, oncoming_lanes: the road. Lanes are numbered from the left;
        the leftmost ``oncoming_lanes`` carry traffic towards the camera; the camera drives in the
        middle of ``ego_lane``. sidewalk_m: width of the pavement on each side.
    *_rate_hz: mean new objects per second (Poisson); initial_*: objects at the first frame.
        More objects mean more occlusion and more labels per frame but slower rendering.
    max_objects: cap on live objects (seen or not).
    *_speed_mps: speed ranges along the road in the world frame (the ego moves too).
    speed_change_per_s: how often an object picks a new target speed (per second).
    crossing_prob: chance a new pedestrian will cross the road.
    brightness_gain/bias, tint: per-sequence lighting (gain on pixel values, added bias, and the
        max per-channel colour cast); shadow_prob_per_s: passing shade (a dip in brightness).
    noise_sigma: sensor noise std in grey levels. blur_prob: chance a frame is motion-blurred.
    jpeg_quality: written images; lower is smaller files with block artefacts.
    pitch_jitter_rad: std of the camera pitch wobble per frame (road bumps). The dataset's camera
        calibration does not know it, so ground-plane range from boxes gets a realistic error
        (about 5 % at 50 m for the default); 0 makes boxes and range agree exactly.
    min_box_height_px, min_visibility, min_inside: which objects are labelled: the clipped box
        is at least this tall, this fraction of it is not covered by nearer objects, and this
        fraction of the full box lies inside the image.
    max_range_m: objects farther than this are not labelled (too small to matter).
    """

    width: int = 640
    height: int = 384
    fps: float = 10.0
    scenario: str = "mixed"
    lanes: int = 3
    lane_width_m: float = 3.5
    ego_lane: int = 1
    oncoming_lanes: int = 1
    sidewalk_m: float = 3.0
    car_rate_hz: float = 0.6
    pedestrian_rate_hz: float = 0.5
    cyclist_rate_hz: float = 0.25
    initial_cars: int = 4
    initial_pedestrians: int = 3
    initial_cyclists: int = 2
    max_objects: int = 24
    ego_speed_mps: tuple[float, float] = (8.0, 14.0)
    car_speed_mps: tuple[float, float] = (5.0, 16.0)
    oncoming_speed_mps: tuple[float, float] = (8.0, 15.0)
    pedestrian_speed_mps: tuple[float, float] = (0.8, 1.8)
    cyclist_speed_mps: tuple[float, float] = (3.0, 7.0)
    speed_change_per_s: float = 0.1
    crossing_prob: float = 0.25
    brightness_gain: tuple[float, float] = (0.65, 1.2)
    brightness_bias: tuple[float, float] = (-20.0, 20.0)
    tint: float = 0.12
    shadow_prob_per_s: float = 0.08
    noise_sigma: tuple[float, float] = (1.5, 6.0)
    blur_prob: float = 0.1
    jpeg_quality: int = 90
    pitch_jitter_rad: float = 0.0015
    min_box_height_px: float = 8.0
    min_visibility: float = 0.05
    min_inside: float = 0.25
    max_range_m: float = 80.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _RANGE_FIELDS:
                if not (isinstance(value, (tuple, list)) and len(value) == 2):
                    raise ValueError(f"{f.name} must be a (lo, hi) pair, got {value!r}")
                lo, hi = (float(v) for v in value)
                if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
                    raise ValueError(f"{f.name} must be finite with lo <= hi, got {value!r}")
                object.__setattr__(self, f.name, (lo, hi))
            elif f.type in ("int", "float") and (
                isinstance(value, bool) or not isinstance(value, (int, float))
            ):
                raise ValueError(f"{f.name} must be a number, got {value!r}")
            elif f.type == "int" and int(value) != value:
                raise ValueError(f"{f.name} must be an integer, got {value!r}")
            elif f.type == "float" and not math.isfinite(value):
                raise ValueError(f"{f.name} must be finite, got {value!r}")
        if self.scenario not in SCENARIOS:
            raise ValueError(f"scenario must be one of {SCENARIOS}, got {self.scenario!r}")
        if self.width < 64 or self.height < 64:
            raise ValueError(f"image must be at least 64x64, got {self.width}x{self.height}")
        if self.fps <= 0:
            raise ValueError(f"fps must be > 0, got {self.fps}")
        if self.lanes < 1 or not 0 <= self.oncoming_lanes <= self.ego_lane < self.lanes:
            raise ValueError(
                "need lanes >= 1 and 0 <= oncoming_lanes <= ego_lane < lanes, got "
                f"lanes={self.lanes} oncoming_lanes={self.oncoming_lanes} ego_lane={self.ego_lane}"
            )
        for name in ("lane_width_m", "sidewalk_m", "min_box_height_px", "max_range_m"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("car_rate_hz", "pedestrian_rate_hz", "cyclist_rate_hz", "speed_change_per_s",
                     "shadow_prob_per_s", "pitch_jitter_rad", "tint",
                     "initial_cars", "initial_pedestrians", "initial_cyclists"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("crossing_prob", "blur_prob", "min_visibility", "min_inside"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.max_objects < 1:
            raise ValueError(f"max_objects must be >= 1, got {self.max_objects}")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be in [1, 100], got {self.jpeg_quality}")
        if self.ego_speed_mps[0] < 0 or self.car_speed_mps[0] < 0 or self.oncoming_speed_mps[0] < 0 \
                or self.pedestrian_speed_mps[0] < 0 or self.cyclist_speed_mps[0] < 0:
            raise ValueError("speed ranges must be >= 0 (oncoming traffic is given as a positive speed)")
        if not 0 < self.brightness_gain[0]:
            raise ValueError(f"brightness_gain must be > 0, got {self.brightness_gain}")
        if self.noise_sigma[0] < 0:
            raise ValueError(f"noise_sigma must be >= 0, got {self.noise_sigma}")

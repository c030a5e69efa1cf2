"""``render_scene``: a synthetic drive as images plus exact ground truth, frame by frame."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Iterator

import cv2
import numpy as np

from perception.data.synthetic.config import SceneConfig
from perception.data.synthetic.draw import draw_agent, draw_markings, make_background
from perception.data.synthetic.world import Agent, World
from perception.geometry import CameraModel
from perception.types import Frame, Tracks

_GRID = 4  # visibility is measured on a grid this many pixels per cell (box-level occlusion)
_NOISE_PAD = 32
_BURN_IN_S = 1.0


@dataclass(frozen=True, eq=False)
class SceneFrame:
    """One rendered frame and its ground truth.

    frame:      the image ``(H, W, 3) uint8 BGR``; ``index`` 0-based, ``timestamp = index / fps``.
    tracks:     the labelled objects, sorted by ``track_id``: ``xyxy`` the object's box clipped to
                the image, ``score`` 1, ``class_id`` into ``CLASSES``, ``track_id`` >= 1 (stable for
                the object's life), ``velocity`` of the unclipped box centre in px/s (0 on the
                frame an object first appears), ``range_m`` the true range (ground distance from
                the camera's foot point to the near face's bottom-centre), ``ttc_s`` the true time
                to collision (range over closing speed; NaN when not closing).
    visibility: ``(N,) float32`` in [0, 1]: the fraction of the clipped box not covered by the
                boxes of nearer objects (box-level, on a 4 px grid).
    ground_xz:  ``(N, 2) float32`` metres: lateral offset and distance ahead of each near face.
    ego_speed_mps: the camera car's speed.
    """

    frame: Frame
    tracks: Tracks
    visibility: np.ndarray
    ground_xz: np.ndarray
    ego_speed_mps: float


def render_sequence(
    *, seed: int, frames: int, config: SceneConfig = SceneConfig(), camera: CameraModel | None = None
) -> Iterator[tuple[Frame, Tracks]]:
    """``(Frame, Tracks)`` per frame; see ``render_scene`` for visibility and the rest."""
    for scene in render_scene(seed=seed, frames=frames, config=config, camera=camera):
        yield scene.frame, scene.tracks


def render_scene(
    *, seed: int, frames: int, config: SceneConfig = SceneConfig(), camera: CameraModel | None = None
) -> Iterator[SceneFrame]:
    """Render ``frames`` frames of a drive; the same arguments give the same pixels and labels.

    camera: defaults to ``CameraModel.default(config.width, config.height)``; its image size must
    match the config. ``seed`` drives three independent streams (traffic, appearance, sensor),
    so changing e.g. the noise level does not change the traffic.
    """
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(frames, bool) or int(frames) != frames or frames < 0:
        raise ValueError(f"frames must be a non-negative integer, got {frames!r}")
    camera = camera or CameraModel.default(width=config.width, height=config.height)
    if (camera.width, camera.height) != (config.width, config.height):
        raise ValueError(
            f"camera image size {camera.width}x{camera.height} differs from config "
            f"{config.width}x{config.height}"
        )
    return _render(int(seed), int(frames), config, camera)


def _render(seed: int, frames: int, config: SceneConfig, camera: CameraModel) -> Iterator[SceneFrame]:
    streams = np.random.SeedSequence(seed).spawn(3)
    traffic_rng, look_rng, sensor_rng = (np.random.default_rng(s) for s in streams)
    dt = 1.0 / config.fps
    world = World(config=config, rng=traffic_rng)
    world.populate(duration_s=frames * dt, offset_s=_BURN_IN_S)
    background = make_background(camera, world, look_rng)
    sensor = _Sensor(config, camera, sensor_rng, frames * dt)
    prev_centre: dict[int, np.ndarray] = {}
    scratch = np.empty_like(background)
    for _ in range(int(round(_BURN_IN_S * config.fps))):
        _draw(scratch, background, world, camera, prev_centre)
        world.step(dt)
    for index in range(frames):
        cam = camera
        if config.pitch_jitter_rad > 0:
            limit = 3 * config.pitch_jitter_rad
            wobble = float(np.clip(sensor.rng.normal(0, config.pitch_jitter_rad), -limit, limit))
            cam = dataclasses.replace(camera, pitch_rad=camera.pitch_rad + wobble)
        img = np.empty_like(background)
        drawn = _draw(img, background, world, cam, prev_centre, fps=config.fps)
        image = sensor.apply(img, index * dt)
        yield _ground_truth(image, index, index * dt, seed, drawn, world, config)
        world.step(dt)


def _draw(
    img: np.ndarray,
    background: np.ndarray,
    world: World,
    camera: CameraModel,
    prev_centre: dict[int, np.ndarray],
    fps: float | None = None,
) -> list[tuple[Agent, np.ndarray, np.ndarray]]:
    """Draw the world far-to-near into ``img``; return ``[(agent, box, velocity)]`` in that order.

    ``prev_centre`` (track_id -> last box centre) is updated in place; velocity is 0 without ``fps``.
    """
    np.copyto(img, background)
    draw_markings(img, camera, world)
    order = sorted(world.agents, key=lambda a: (-(a.s - world.ego_s), a.track_id))
    drawn = []
    seen = set()
    for a in order:
        box = draw_agent(img, a, a.s - world.ego_s, camera)
        if box is None or not np.isfinite(box).all():
            continue
        centre = (box[:2] + box[2:]) / 2
        prev = prev_centre.get(a.track_id)
        velocity = (centre - prev) * fps if prev is not None and fps else np.zeros(2)
        prev_centre[a.track_id] = centre
        seen.add(a.track_id)
        drawn.append((a, box, velocity))
    for tid in set(prev_centre) - seen:
        del prev_centre[tid]
    return drawn


def _ground_truth(
    image: np.ndarray,
    index: int,
    t: float,
    seed: int,
    drawn: list[tuple[Agent, np.ndarray, np.ndarray]],
    world: World,
    config: SceneConfig,
) -> SceneFrame:
    """Label the drawn objects: clip, measure occlusion near-to-far, filter, sort by track_id."""
    h, w = image.shape[:2]
    occ = np.zeros((math.ceil(h / _GRID), math.ceil(w / _GRID)), bool)
    rows = []
    for a, box, velocity in reversed(drawn):  # near to far
        x1, y1, x2, y2 = (float(v) for v in box)
        clipped = np.array(
            [min(max(x1, 0.0), w), min(max(y1, 0.0), h), min(max(x2, 0.0), w), min(max(y2, 0.0), h)]
        )
        cw, ch = clipped[2] - clipped[0], clipped[3] - clipped[1]
        if cw <= 0 or ch <= 0:
            continue
        g = (int(clipped[0] // _GRID), int(clipped[1] // _GRID),
             max(int(clipped[0] // _GRID) + 1, math.ceil(clipped[2] / _GRID)),
             max(int(clipped[1] // _GRID) + 1, math.ceil(clipped[3] / _GRID)))
        cells = occ[g[1]:g[3], g[0]:g[2]]
        visibility = 1.0 - float(cells.mean())
        cells[...] = True
        full = (box[2] - box[0]) * (box[3] - box[1])
        z = a.s - world.ego_s
        rng_m = math.hypot(a.x, z)
        if ch < config.min_box_height_px or cw < 2 or visibility < config.min_visibility \
                or cw * ch < config.min_inside * full or rng_m > config.max_range_m:
            continue
        closing = -(a.x * a.vx + z * (a.speed - world.ego_speed)) / max(rng_m, 1e-6)
        ttc = rng_m / closing if closing > 0.2 else math.nan
        rows.append((a.track_id, a.class_id, clipped, velocity, rng_m, ttc, visibility, a.x, z))
    rows.sort(key=lambda r: r[0])
    n = len(rows)
    tracks = Tracks(
        xyxy=np.array([r[2] for r in rows]).reshape(n, 4),
        score=np.ones(n),
        class_id=np.array([r[1] for r in rows], np.int64),
        track_id=np.array([r[0] for r in rows], np.int64),
        velocity=np.array([r[3] for r in rows]).reshape(n, 2),
        range_m=np.array([r[4] for r in rows]),
        ttc_s=np.array([r[5] for r in rows]),
    )
    vis = np.array([r[6] for r in rows], np.float32)
    xz = np.array([(r[7], r[8]) for r in rows], np.float32).reshape(n, 2)
    vis.setflags(write=False)
    xz.setflags(write=False)
    frame = Frame(image=image, stream_id=f"synthetic-{seed}", index=index, timestamp=t)
    return SceneFrame(frame=frame, tracks=tracks, visibility=vis, ground_xz=xz, ego_speed_mps=world.ego_speed)


class _Sensor:
    """Lighting, shade, blur and noise, fixed per sequence except for what varies per frame."""

    def __init__(self, config: SceneConfig, camera: CameraModel, rng: np.random.Generator, duration_s: float):
        self.rng, self.config = rng, config
        self.gain = float(rng.uniform(*config.brightness_gain))
        self.bias = float(rng.uniform(*config.brightness_bias))
        self.tint = 1.0 + rng.uniform(-config.tint, config.tint, 3)
        sigma = float(rng.uniform(*config.noise_sigma))
        h, w = camera.height + _NOISE_PAD, camera.width + _NOISE_PAD
        noise = rng.standard_normal((h, w, 3), dtype=np.float32) * np.float32(sigma)
        self.noise_pos = np.clip(noise, 0, 255).astype(np.uint8)
        self.noise_neg = np.clip(-noise, 0, 255).astype(np.uint8)
        self.shades = []  # (start s, length s, depth): driving under trees or a bridge
        t = 0.0
        while config.shadow_prob_per_s > 0:
            t += float(rng.exponential(1.0 / config.shadow_prob_per_s))
            if t > duration_s:
                break
            self.shades.append((t, float(rng.uniform(0.4, 1.5)), float(rng.uniform(0.45, 0.8))))

    def apply(self, img: np.ndarray, t: float) -> np.ndarray:
        shade = 1.0
        for start, length, depth in self.shades:
            if start <= t <= start + length:
                # Smooth dip and recovery so the change is a ramp, not a flash.
                shade = 1.0 - (1.0 - depth) * math.sin(math.pi * (t - start) / length)
        g = self.gain * shade * self.tint
        m = np.array([[g[0], 0, 0, self.bias], [0, g[1], 0, self.bias], [0, 0, g[2], self.bias]])
        img = cv2.transform(img, m)
        if self.rng.random() < self.config.blur_prob:
            k = int(self.rng.integers(3, 8))
            img = cv2.blur(img, (k, 1)) if self.rng.random() < 0.7 else cv2.GaussianBlur(img, (5, 5), 1.2)
        oy, ox = (int(v) for v in self.rng.integers(0, _NOISE_PAD, 2))
        h, w = img.shape[:2]
        cv2.add(img, self.noise_pos[oy:oy + h, ox:ox + w], dst=img)
        cv2.subtract(img, self.noise_neg[oy:oy + h, ox:ox + w], dst=img)
        return img

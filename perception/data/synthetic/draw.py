"""Drawing the road and the objects with OpenCV, through the same camera model as the estimator.

Every object is built from points in the ground frame (``x`` right, ``up``, ``z`` ahead; see
``perception.geometry``) projected with ``project_ground_points``, so a box's bottom edge is
where the object stands on the ground. Each ``draw_*`` returns the object's unclipped pixel box
``(x1, y1, x2, y2)`` or ``None`` when it is behind the camera.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from perception.data.synthetic.config import CAR, PEDESTRIAN
from perception.data.synthetic.world import Agent, World
from perception.geometry import CameraModel, project_ground_points

_SHIFT = 4  # cv2 fixed-point bits: sub-pixel placement keeps small far objects steady
_ONE = 1 << _SHIFT
_MIN_Z_M = 1.5  # nearer than this the object is beside or under the camera: not drawn
_DASH_M, _DASH_PERIOD_M, _POLE_PERIOD_M = 3.0, 12.0, 30.0
_DETAIL_PX = 14.0  # objects shorter than this on screen are drawn with fewer parts (speed)


def _project(camera: CameraModel, pts: np.ndarray) -> np.ndarray:
    """``pts (K, 3)`` as ``(x, up, z)`` metres -> ``(K, 2)`` pixels."""
    return project_ground_points(pts[:, 0], pts[:, 2], camera, up_m=pts[:, 1])


def _fx(uv: np.ndarray) -> np.ndarray:
    return np.round(uv * _ONE).astype(np.int32)


def _shade(color: tuple[int, int, int] | np.ndarray, k: float) -> tuple[int, int, int]:
    return tuple(int(min(255, max(0, c * k))) for c in color)


def make_background(camera: CameraModel, world: World, rng: np.random.Generator) -> np.ndarray:
    """The static part of the scene ``(H, W, 3) uint8 BGR``: sky, skyline, verges, pavement, road."""
    h, w = camera.height, camera.width
    img = np.empty((h, w, 3), np.uint8)
    horizon = int(round(camera.horizon_v))
    top = np.array(rng.choice([[235, 190, 140], [200, 195, 190], [180, 170, 200], [240, 215, 170]]), float)
    bottom = top * 0.6 + 255 * 0.4
    ramp = np.linspace(0, 1, max(horizon, 1))[:, None]
    img[: max(horizon, 0)] = (top * (1 - ramp) + bottom * ramp)[: max(horizon, 0), None, :].astype(np.uint8)
    ground = np.array(rng.choice([[70, 120, 80], [60, 100, 110], [90, 130, 100]]), float)
    img[max(horizon, 0):] = ground.astype(np.uint8)
    # Skyline: buildings and tree blobs standing on the horizon (clutter a detector must ignore).
    x = 0
    while x < w:
        bw = int(rng.integers(w // 40, w // 10))
        bh = int(rng.integers(4, max(5, horizon // 2)))
        shade = float(rng.uniform(0.35, 0.8))
        tones = [[150, 150, 160], [120, 130, 140], [90, 110, 130], [60, 90, 60]]
        col = _shade(rng.choice(tones), shade * 1.4)
        cv2.rectangle(img, (x, horizon - bh), (x + bw, horizon), col, -1)
        for _ in range(int(rng.integers(0, 4))):  # windows
            wx, wy = x + int(rng.integers(1, max(2, bw - 3))), horizon - int(rng.integers(1, max(2, bh)))
            cv2.rectangle(img, (wx, wy), (wx + 2, wy + 2), _shade(col, 0.6), -1)
        x += bw + int(rng.integers(0, w // 30))
    left, right = world.road_edges
    sw = world.config.sidewalk_m
    far, near = 400.0, 0.5
    def quad(x0: float, x1: float, color: tuple[int, int, int]) -> None:
        pts = np.array([[x0, 0, near], [x1, 0, near], [x1, 0, far], [x0, 0, far]])
        cv2.fillConvexPoly(img, _fx(_project(camera, pts)), color, cv2.LINE_AA, _SHIFT)
    pave = _shade([150, 150, 155], float(rng.uniform(0.8, 1.1)))
    quad(left - sw, left, pave)
    quad(right, right + sw, pave)
    asphalt = _shade([95, 92, 90], float(rng.uniform(0.7, 1.15)))
    quad(left, right, asphalt)
    # Asphalt texture, fixed per sequence.
    below = slice(max(horizon, 0), h)
    grain = rng.normal(0, 5, (h - max(horizon, 0), w, 1)).astype(np.int16)
    img[below] = np.clip(img[below].astype(np.int16) + grain, 0, 255).astype(np.uint8)
    white = (225, 225, 225)
    for xe in (left + 0.15, right - 0.15):
        quad(xe - 0.08, xe + 0.08, white)
    for xe in (left, right):  # kerbs
        quad(xe - 0.05, xe + 0.05, (185, 185, 190))
    c = world.config
    if 0 < c.oncoming_lanes:
        xc = (c.oncoming_lanes - c.ego_lane - 0.5) * c.lane_width_m
        for off in (-0.12, 0.12):
            quad(xc + off - 0.05, xc + off + 0.05, (60, 200, 230))
    return img


def draw_markings(img: np.ndarray, camera: CameraModel, world: World) -> None:
    """Lane dashes and lamp posts that move with the ego (drawn in place on ``img``)."""
    c = world.config
    dividers = [(k - c.ego_lane - 0.5) * c.lane_width_m for k in range(c.oncoming_lanes + 1, c.lanes)]
    dividers += [(k - c.ego_lane - 0.5) * c.lane_width_m for k in range(1, c.oncoming_lanes)]
    start = -(world.ego_s % _DASH_PERIOD_M)
    z0 = start + _DASH_PERIOD_M * np.arange(9)
    z0 = z0[z0 + _DASH_M > _MIN_Z_M - 1.0]
    polys = []
    for xd in dividers:
        for z in z0:
            za, zb = max(z, 0.6), z + _DASH_M
            polys.append([[xd - 0.07, 0, za], [xd + 0.07, 0, za], [xd + 0.07, 0, zb], [xd - 0.07, 0, zb]])
    if polys:
        uv = _fx(_project(camera, np.asarray(polys, float).reshape(-1, 3))).reshape(-1, 4, 2)
        cv2.fillPoly(img, list(uv), (215, 215, 215), cv2.LINE_AA, _SHIFT)
    left, right = world.road_edges
    zp = -(world.ego_s % _POLE_PERIOD_M) + _POLE_PERIOD_M * np.arange(1, 5)
    zp = zp[zp > 3.0]
    posts = [(xp, z) for xp in (left - c.sidewalk_m + 0.4, right + c.sidewalk_m - 0.4) for z in zp]
    if not posts:
        return
    pts = np.array([[[xp, 0, z], [xp, 6.5, z], [xp - math.copysign(1.2, xp), 6.5, z]] for xp, z in posts])
    uv = _fx(_project(camera, pts.reshape(-1, 3))).reshape(-1, 3, 2)
    for (_, z), p in zip(posts, uv):
        thick = max(1, int(round(0.12 * camera.fx / z)))
        cv2.line(img, tuple(p[0]), tuple(p[1]), (70, 75, 80), thick, cv2.LINE_8, _SHIFT)
        cv2.line(img, tuple(p[1]), tuple(p[2]), (70, 75, 80), max(1, thick // 2), cv2.LINE_8, _SHIFT)


def draw_agent(img: np.ndarray, a: Agent, z: float, camera: CameraModel) -> np.ndarray | None:
    """Draw one object whose near face is ``z`` metres ahead; return its pixel box or ``None``."""
    if z < _MIN_Z_M:
        return None
    if a.class_id == CAR:
        return _draw_car(img, a, z, camera)
    if a.class_id == PEDESTRIAN:
        return _draw_pedestrian(img, a, z, camera)
    return _draw_cyclist(img, a, z, camera)


def _poly(img: np.ndarray, uv: np.ndarray, color: tuple[int, int, int]) -> None:
    cv2.fillConvexPoly(img, _fx(uv), color, cv2.LINE_AA, _SHIFT)


def _wheel_points(centre: np.ndarray, heading: np.ndarray, r: float) -> np.ndarray:
    """5 ground-frame points of a wheel: both ends along ``heading``, top, bottom, centre."""
    up = np.array([0.0, r, 0.0])
    return np.stack([centre - r * heading, centre + r * heading, centre + up, centre - up, centre])


def _wheel(img: np.ndarray, uv: np.ndarray, color: tuple[int, int, int], thickness: int = -1) -> np.ndarray:
    """Draw a wheel seen in perspective as an ellipse from its 5 projected points; return its 4 extremes."""
    half_u = max(0.6, abs(uv[1, 0] - uv[0, 0]) / 2)
    half_v = max(0.6, abs(uv[3, 1] - uv[2, 1]) / 2)
    width = thickness if thickness < 0 else max(1, int(round(thickness * half_v / 8)))
    cv2.ellipse(img, _pt(*uv[4]), _ax(half_u, half_v), 0, 0, 360, color, width, cv2.LINE_AA, _SHIFT)
    return uv[:4]


def _draw_car(img: np.ndarray, a: Agent, z: float, cam: CameraModel) -> np.ndarray:
    xl, xr, H, L = a.x - a.width / 2, a.x + a.width / 2, a.height, a.length
    body = a.color
    side_x = xl if xl > 0 else xr if xr < 0 else None
    roof = H < cam.height_m - 0.05  # the camera sees the roof only from above
    groups = [
        ("shadow", [[xl - 0.1, 0, z], [xr + 0.1, 0, z], [xr + 0.1, 0, z + L], [xl - 0.1, 0, z + L]]),
        ("face", [[xl, 0, z], [xr, 0, z], [xr, H, z], [xl, H, z]]),
    ]
    if side_x is not None:
        groups += [
            ("side", [[side_x, 0.25, z], [side_x, 0.93 * H, z], [side_x, 0.93 * H, z + L],
                      [side_x, 0.25, z + L]]),
            ("glass", [[side_x, 0.58 * H, z + 0.22 * L], [side_x, 0.9 * H, z + 0.3 * L],
                       [side_x, 0.9 * H, z + 0.78 * L], [side_x, 0.58 * H, z + 0.85 * L]]),
            ("wheel0", _wheel_points(np.array([side_x, 0.33, z + 0.18 * L]), np.array([0.0, 0, 1]), 0.33)),
            ("wheel1", _wheel_points(np.array([side_x, 0.33, z + 0.82 * L]), np.array([0.0, 0, 1]), 0.33)),
        ]
    if roof:
        groups.append(("roof", [[xl + 0.1, H, z + 0.25 * L], [xr - 0.1, H, z + 0.25 * L],
                                [xr - 0.1, H, z + 0.8 * L], [xl + 0.1, H, z + 0.8 * L]]))
    uv = _project(cam, np.concatenate([np.asarray(g, float) for _, g in groups]))
    parts, i = {}, 0
    for name, g in groups:
        parts[name] = uv[i:i + len(g)]
        i += len(g)
    # Shadow on the ground: the strongest "this stands here" cue.
    _poly(img, parts["shadow"], (30, 30, 32))
    points = [parts["face"]]
    small = cam.fy * H / z < _DETAIL_PX  # far away: details would be sub-pixel, skip them
    if side_x is not None:
        _poly(img, parts["side"], _shade(body, 0.72))
        points.append(parts["side"])
        if small:
            points += [parts["wheel0"][:4], parts["wheel1"][:4]]
        else:
            _poly(img, parts["glass"], (70, 62, 55))
            points += [_wheel(img, parts["wheel0"], (22, 22, 24)), _wheel(img, parts["wheel1"], (22, 22, 24))]
    if roof:
        _poly(img, parts["roof"], _shade(body, 1.12))
        points.append(parts["roof"])
    face = parts["face"]
    u1, u2 = face[:, 0].min(), face[:, 0].max()
    vb, vt = face[:, 1].max(), face[:, 1].min()
    fw, fh = u2 - u1, vb - vt

    def rect(fx0: float, fy0: float, fx1: float, fy1: float, color: tuple[int, int, int]) -> None:
        # Fractions of the face: x from the left, y from the bottom.
        p0 = (int((u1 + fx0 * fw) * _ONE), int((vb - fy1 * fh) * _ONE))
        p1 = (int((u1 + fx1 * fw) * _ONE), int((vb - fy0 * fh) * _ONE))
        cv2.rectangle(img, p0, p1, color, -1, cv2.LINE_AA, _SHIFT)

    if small:
        rect(0.0, 0.0, 1.0, 0.94, body)
        rect(0.0, 0.0, 1.0, 0.2, (20, 20, 22))
    else:
        rect(0.02, 0.0, 0.2, 0.24, (20, 20, 22))  # wheels under the body
        rect(0.8, 0.0, 0.98, 0.24, (20, 20, 22))
        rect(0.0, 0.14, 1.0, 0.62, body)
        rect(0.0, 0.14, 1.0, 0.3, _shade(body, 0.55))  # bumper
        rect(0.08, 0.62, 0.92, 0.94, _shade(body, 0.95))  # pillars / roof line
    rect(0.14, 0.64, 0.86, 0.9, (75, 68, 60) if a.facing == "rear" else (95, 85, 75))  # window
    if a.facing == "rear":
        lamp = (20, 20, 255) if a.braking else (30, 30, 150)
        rect(0.03, 0.42, 0.18, 0.55, lamp)
        rect(0.82, 0.42, 0.97, 0.55, lamp)
        if not small:
            rect(0.38, 0.2, 0.62, 0.28, (210, 210, 210))  # plate
    else:
        rect(0.04, 0.38, 0.2, 0.5, (200, 235, 245))
        rect(0.8, 0.38, 0.96, 0.5, (200, 235, 245))
        rect(0.3, 0.34, 0.7, 0.48, (40, 40, 40))  # grille
    pts = np.concatenate(points)
    return np.array([pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()])


def _draw_pedestrian(img: np.ndarray, a: Agent, z: float, cam: CameraModel) -> np.ndarray:
    face = _project(cam, np.array([[a.x, 0, z], [a.x, a.height, z], [a.x + a.width / 2, 0, z]]))
    uc, vb, vt = face[0, 0], face[0, 1], face[1, 1]
    h = vb - vt
    half = max(0.8, face[2, 0] - uc)
    swing = math.sin(a.phase)
    stride = (0.42 if a.facing == "side" else 0.12) * half * 2 * swing
    hip_v = vt + 0.5 * h
    leg = max(1, int(round(0.34 * half)))
    trousers = a.accent
    feet = [(uc - 0.3 * half + stride, vb), (uc + 0.3 * half - stride, vb)]
    for fu, fv in feet:
        lift = 0.03 * h * max(0.0, math.cos(a.phase)) if a.facing != "side" else 0.0
        hip = _pt(uc + (fu - uc) * 0.3, hip_v)
        cv2.line(img, hip, _pt(fu, fv - lift), trousers, 2 * leg, cv2.LINE_AA, _SHIFT)
    # Ellipses shade the silhouette so it reads as a body, not a post.
    torso = _ax(0.8 * half, 0.19 * h)
    cv2.ellipse(img, _pt(uc, vt + 0.34 * h), torso, 0, 0, 360, a.color, -1, cv2.LINE_AA, _SHIFT)
    arm = 0.25 * half * 2 * swing if a.facing == "side" else 0.0
    detailed = h >= 2 * _DETAIL_PX
    if detailed:
        for side in (-1, 1):
            shoulder = _pt(uc + side * 0.75 * half, vt + 0.2 * h)
            hand = _pt(uc + side * 0.8 * half + side * arm, vt + 0.5 * h)
            cv2.line(img, shoulder, hand, _shade(a.color, 0.8), max(1, leg), cv2.LINE_AA, _SHIFT)
    cv2.circle(img, _pt(uc, vt + 0.075 * h), int(0.075 * h * _ONE), a.skin, -1, cv2.LINE_AA, _SHIFT)
    if detailed:
        cv2.ellipse(img, _pt(uc, vt + 0.06 * h), _ax(0.075 * h, 0.055 * h), 0, 180, 360, (30, 30, 40), -1,
                    cv2.LINE_AA, _SHIFT)
    us = [uc - 0.85 * half - abs(arm), uc + 0.85 * half + abs(arm)]
    us += [f[0] - leg for f in feet] + [f[0] + leg for f in feet]
    return np.array([min(us), vt, max(us), vb])


def _draw_cyclist(img: np.ndarray, a: Agent, z: float, cam: CameraModel) -> np.ndarray:
    r, L = 0.34, a.length
    if a.facing == "rear":
        heading = np.array([0.0, 0, 1])
    else:
        heading = np.array([math.copysign(1.0, a.vx or 1.0), 0, 0])
    # The near wheel touches the ground at z, so the box bottom is the object's true range.
    base = np.array([a.x, 0, z - r]) if a.facing == "rear" else np.array([a.x - heading[0] * L / 2, 0, z])
    rear_c = base + heading * r + [0, r, 0]
    front_c = base + heading * (L - r) + [0, r, 0]
    seat = base + heading * 0.45 * L + [0, 0.95, 0]
    bars = base + heading * (L - 0.45) + [0, 1.05, 0]
    crank = base + heading * 0.5 * L + [0, 0.32, 0]
    shoulder = base + heading * 0.62 * L + [0, 1.42, 0]
    head = base + heading * 0.68 * L + [0, 1.62, 0]
    wheels = (rear_c, front_c) if a.facing == "rear" else (front_c, rear_c)  # far wheel first
    skeleton = np.stack([rear_c, front_c, seat, bars, crank, shoulder, head, head + [0, 0.11, 0]])
    uv = _project(cam, np.concatenate([skeleton] + [_wheel_points(c, heading, r) for c in wheels]))
    if not np.isfinite(uv).all():
        return None
    p = uv[:8]
    ext = [_wheel(img, uv[i:i + 5], (25, 25, 25), thickness=3) for i in (8, 13)]
    frame = (40, 40, 170) if a.track_id % 2 else (160, 160, 160)
    width = max(1, int(round(0.05 * cam.fy / z)))
    for i, j in ((0, 4), (4, 2), (2, 3), (3, 1), (0, 2)):
        cv2.line(img, _pt(*p[i]), _pt(*p[j]), frame, width, cv2.LINE_AA, _SHIFT)
    pedal = np.array([math.cos(a.phase), math.sin(a.phase)]) * 0.16 * cam.fy / z
    body_w = max(1, int(round(0.14 * cam.fy / z)))
    for sgn in (1, -1):
        cv2.line(img, _pt(*p[2]), _pt(p[4, 0] + sgn * pedal[0], p[4, 1] + sgn * pedal[1]), a.accent, body_w,
                 cv2.LINE_AA, _SHIFT)
    cv2.line(img, _pt(*p[2]), _pt(*p[5]), a.color, int(body_w * 2.2), cv2.LINE_AA, _SHIFT)
    cv2.line(img, _pt(*p[5]), _pt(*p[3]), _shade(a.color, 0.8), body_w, cv2.LINE_AA, _SHIFT)
    head_r = abs(p[7, 1] - p[6, 1])
    cv2.circle(img, _pt(*p[6]), int(head_r * _ONE), a.skin, -1, cv2.LINE_AA, _SHIFT)
    helmet = _ax(head_r * 1.1, head_r * 0.8)
    cv2.ellipse(img, _pt(*p[6]), helmet, 0, 180, 360, a.accent, -1, cv2.LINE_AA, _SHIFT)
    head_box = p[6:7] + [[0, -head_r], [head_r, 0], [-head_r, 0]]
    pts = np.concatenate([np.concatenate(ext), p[:6], head_box])
    return np.array([pts[:, 0].min() - 1, pts[:, 1].min(), pts[:, 0].max() + 1, pts[:, 1].max()])


def _pt(u: float, v: float) -> tuple[int, int]:
    return int(round(u * _ONE)), int(round(v * _ONE))


def _ax(a: float, b: float) -> tuple[int, int]:
    return max(1, int(round(a * _ONE))), max(1, int(round(b * _ONE)))

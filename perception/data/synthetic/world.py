"""The moving world of a synthetic drive: the ego car and the objects around it.

Ground frame as in ``perception.geometry``: ``x`` metres to the right of the camera, ``s`` metres
along the road in the world (the ego moves too), ``z = s - ego.s`` metres ahead of the camera.
Every object keeps the world position ``s`` of its *near face* (the face towards the camera), so
its true range is ``hypot(x, z)``. Nothing here draws; ``World`` is mutable state owned by one
``render_scene`` call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from perception.data.synthetic.config import CAR, CYCLIST, PEDESTRIAN, SceneConfig

_SPAWN_AHEAD_M = (55.0, 95.0)
_BEHIND_LIMIT_M = -15.0
_SKIN_TONES = [[120, 150, 200], [80, 110, 160], [50, 70, 110], [150, 180, 220]]  # BGR


@dataclass
class Agent:
    """One object. Mutable on purpose: the world steps it forward in place, frame by frame."""

    track_id: int
    class_id: int
    x: float  # lateral centre, m
    s: float  # world position of the near face along the road, m
    speed: float  # along the road in the world, m/s (negative: oncoming)
    target_speed: float
    width: float
    height: float
    length: float
    color: tuple[int, int, int]
    facing: str = "rear"  # rear | front | side (which face the camera sees)
    vx: float = 0.0  # lateral speed, m/s
    target_x: float | None = None
    brake_at: float = math.inf
    cut_at: float = math.inf
    cross_at: float = math.inf
    decel: float = 3.0
    braking: bool = False
    stopped_for: float = 0.0
    phase: float = 0.0  # walk / pedal cycle, radians
    accent: tuple[int, int, int] = (40, 40, 40)
    skin: tuple[int, int, int] = (120, 150, 200)

    def t_event(self, t: float, name: str) -> bool:
        """Whether the scripted event ``name`` (brake, cut, cross) is due at time ``t``."""
        return t >= getattr(self, f"{name}_at")


@dataclass
class World:
    """Ego state, the live agents and the road, for one sequence."""

    config: SceneConfig
    rng: np.random.Generator
    ego_s: float = 0.0
    ego_speed: float = 10.0
    ego_target: float = 10.0
    t: float = 0.0
    agents: list[Agent] = field(default_factory=list)
    next_id: int = 1

    @property
    def lane_centres(self) -> np.ndarray:
        c = self.config
        return (np.arange(c.lanes) - c.ego_lane) * c.lane_width_m

    @property
    def road_edges(self) -> tuple[float, float]:
        c = self.config
        return (-c.ego_lane - 0.5) * c.lane_width_m, (c.lanes - c.ego_lane - 0.5) * c.lane_width_m

    # -- setup -------------------------------------------------------------------------------

    def populate(self, duration_s: float, offset_s: float = 0.0) -> None:
        """Initial objects spread along the road, plus the scenario's scripted event(s).

        Events happen between 15 % and 50 % of ``duration_s`` after ``offset_s`` (the burn-in)."""
        c, rng = self.config, self.rng
        self.ego_speed = self.ego_target = float(rng.uniform(*c.ego_speed_mps))
        for _ in range(c.initial_cars):
            self.spawn_car(z=float(rng.uniform(10.0, 70.0)))
        for _ in range(c.initial_pedestrians):
            self.spawn_pedestrian(z=float(rng.uniform(8.0, 60.0)))
        for _ in range(c.initial_cyclists):
            self.spawn_cyclist(z=float(rng.uniform(12.0, 60.0)))
        events = {"lead_brake", "cut_in", "ped_crossing"} if c.scenario == "mixed" else {c.scenario}
        for event in sorted(events):
            if c.scenario == "mixed" and rng.random() > 0.35:
                continue
            start = offset_s + float(rng.uniform(0.15, 0.5)) * max(duration_s, 1.0)
            getattr(self, f"_script_{event}")(start)

    def _script_lead_brake(self, start: float) -> None:
        rng = self.rng
        self._clear_lane(0.0, 0.0, 45.0)
        a = self.spawn_car(z=float(rng.uniform(15.0, 28.0)), lane_x=0.0, speed=self.ego_speed)
        if a is not None:
            a.brake_at, a.decel = start, float(rng.uniform(3.5, 7.0))

    def _script_cut_in(self, start: float) -> None:
        c, rng = self.config, self.rng
        sides = [x for x in (-c.lane_width_m, c.lane_width_m) if self._same_direction(x)]
        if not sides:
            return
        side = float(rng.choice(sides))
        self._clear_lane(side, 0.0, 40.0)
        a = self.spawn_car(z=float(rng.uniform(14.0, 24.0)), lane_x=side,
                           speed=self.ego_speed * float(rng.uniform(0.9, 1.0)))
        if a is not None:
            a.cut_at, a.target_x = start, 0.0

    def _script_ped_crossing(self, start: float) -> None:
        rng = self.rng
        for k in range(int(rng.integers(1, 4))):
            cross_at = start + k * float(rng.uniform(0.2, 1.0))
            # Far enough ahead when they step off that they are still in front of us mid-road.
            z = self.ego_speed * cross_at + float(rng.uniform(35.0, 50.0))
            a = self.spawn_pedestrian(z=z, walking=False, kerb=True)
            if a is not None:
                a.cross_at = cross_at

    def _clear_lane(self, x: float, z0: float, z1: float) -> None:
        """Make room for a scripted car: drop any vehicle near lane ``x`` between ``z0`` and ``z1``."""
        self.agents = [
            a for a in self.agents
            if not (a.class_id != PEDESTRIAN and abs(a.x - x) < 1.5 and z0 - 10.0 <= a.s - self.ego_s <= z1)
        ]

    def _same_direction(self, x: float) -> bool:
        c = self.config
        lane = int(round(x / c.lane_width_m)) + c.ego_lane
        return c.oncoming_lanes <= lane < c.lanes

    # -- spawning ----------------------------------------------------------------------------

    def _new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def _free(self, x: float, z: float, gap: float) -> bool:
        return all(abs(a.x - x) > 1.2 or abs(a.s - self.ego_s - z) > gap for a in self.agents)

    def spawn_car(self, *, z: float, lane_x: float | None = None, speed: float | None = None) -> Agent | None:
        c, rng = self.config, self.rng
        if len(self.agents) >= c.max_objects:
            return None
        x = float(rng.choice(self.lane_centres)) if lane_x is None else lane_x
        oncoming = not self._same_direction(x)
        if speed is None:
            if oncoming:
                speed = -float(rng.uniform(*c.oncoming_speed_mps))
            else:
                speed = float(rng.uniform(*c.car_speed_mps))
        if x == 0.0 and not oncoming and z > 0:
            speed = min(speed, self.ego_speed + 1.0)  # a car ahead in our lane must stay in view a while
        if not self._free(x, z, 9.0):
            return None
        kind = rng.random()
        # Saloon, SUV or van (all class "car"): width, height, length in metres.
        width, height, length = (1.75, 1.45, 4.3) if kind < 0.6 else (1.9, 1.75, 4.8) if kind < 0.9 else (
            2.0, 2.3, 5.5)
        scale = float(rng.uniform(0.94, 1.06))
        palette = np.array([[200, 200, 205], [40, 40, 45], [30, 30, 170], [160, 90, 30], [150, 150, 150],
                            [60, 120, 40], [30, 150, 220], [110, 40, 90], [230, 230, 230], [70, 60, 50]])
        color = palette[int(rng.integers(len(palette)))] * rng.uniform(0.85, 1.1) + rng.normal(0, 8, 3)
        a = Agent(
            track_id=self._new_id(), class_id=CAR, x=x + float(rng.normal(0, 0.15)), s=self.ego_s + z,
            speed=speed, target_speed=speed,
            width=width * scale, height=height * scale, length=length * scale,
            color=tuple(int(v) for v in np.clip(color, 0, 255)), facing="front" if oncoming else "rear",
            decel=float(rng.uniform(2.0, 4.0)),
        )
        self.agents.append(a)
        return a

    def _sidewalk_x(self, side: float) -> float:
        left, right = self.road_edges
        off = float(self.rng.uniform(0.4, self.config.sidewalk_m - 0.3))
        return right + off if side > 0 else left - off

    def spawn_pedestrian(self, *, z: float, walking: bool = True, kerb: bool = False) -> Agent | None:
        """A pedestrian on the pavement (``kerb``: at its road edge, about to cross)."""
        c, rng = self.config, self.rng
        if len(self.agents) >= c.max_objects:
            return None
        side = 1.0 if rng.random() < 0.6 else -1.0
        x = self._sidewalk_x(side)
        if kerb:
            x = self.road_edges[side > 0] + side * float(rng.uniform(0.2, 0.6))
        speed = 0.0
        if walking:
            speed = float(rng.uniform(*c.pedestrian_speed_mps)) * (1 if rng.random() < 0.5 else -1)
        a = Agent(
            track_id=self._new_id(), class_id=PEDESTRIAN, x=x, s=self.ego_s + z, speed=speed,
            target_speed=speed, width=float(rng.uniform(0.45, 0.6)), height=float(rng.uniform(1.5, 1.92)),
            length=0.3, color=_random_color(rng), facing="rear" if walking else "side",
            phase=float(rng.uniform(0, 2 * math.pi)), accent=_random_color(rng, dark=True),
            skin=tuple(int(v) for v in rng.choice(_SKIN_TONES)),
        )
        if walking and rng.random() < c.crossing_prob:
            a.cross_at = self.t + float(rng.uniform(1.0, 6.0))
        self.agents.append(a)
        return a

    def spawn_cyclist(self, *, z: float) -> Agent | None:
        c, rng = self.config, self.rng
        if len(self.agents) >= c.max_objects:
            return None
        _, right = self.road_edges
        crossing = rng.random() < c.crossing_prob
        if crossing:
            x = self._sidewalk_x(1.0 if rng.random() < 0.5 else -1.0)
        else:
            x = right - float(rng.uniform(0.6, 1.0))
        if not self._free(x, z, 6.0):
            return None
        speed = 0.0 if crossing else float(rng.uniform(*c.cyclist_speed_mps))
        a = Agent(
            track_id=self._new_id(), class_id=CYCLIST, x=x, s=self.ego_s + z, speed=speed, target_speed=speed,
            width=0.6, height=float(rng.uniform(1.65, 1.85)), length=1.75, color=_random_color(rng),
            facing="rear", phase=float(rng.uniform(0, 2 * math.pi)), accent=_random_color(rng, dark=True),
            skin=(120, 150, 200),
        )
        if crossing:
            a.facing, a.cross_at = "side", self.t + float(rng.uniform(0.5, 4.0))
        self.agents.append(a)
        return a

    def spawn_random(self, dt: float) -> None:
        c, rng = self.config, self.rng
        if rng.random() < c.car_rate_hz * dt:
            x = float(rng.choice(self.lane_centres))
            fast = self._same_direction(x) and x != 0.0 and rng.random() < 0.3
            if fast:  # overtakes us from behind
                self.spawn_car(z=-8.0, lane_x=x, speed=self.ego_speed + float(rng.uniform(2.0, 5.0)))
            else:
                self.spawn_car(z=float(rng.uniform(*_SPAWN_AHEAD_M)), lane_x=x)
        if rng.random() < c.pedestrian_rate_hz * dt:
            self.spawn_pedestrian(z=float(rng.uniform(35.0, 75.0)))
        if rng.random() < c.cyclist_rate_hz * dt:
            self.spawn_cyclist(z=float(rng.uniform(*_SPAWN_AHEAD_M)))

    # -- dynamics ----------------------------------------------------------------------------

    def step(self, dt: float) -> None:
        """Advance everything by ``dt`` seconds; drop objects that are far behind or ahead."""
        self._ego_control(dt)
        for a in self.agents:
            self._behave(a, dt)
        self._follow()
        for a in self.agents:
            a.s += a.speed * dt
            a.x += a.vx * dt
            a.phase += dt * (abs(a.speed) + abs(a.vx)) * (5.0 if a.class_id == PEDESTRIAN else 2.0)
        self.ego_s += self.ego_speed * dt
        self.t += dt
        left, right = self.road_edges
        keep_x = (left - self.config.sidewalk_m - 1.0, right + self.config.sidewalk_m + 1.0)
        self.agents = [
            a for a in self.agents
            if _BEHIND_LIMIT_M < a.s - self.ego_s < 140.0 and keep_x[0] <= a.x <= keep_x[1]
        ]
        self.spawn_random(dt)

    def _ego_control(self, dt: float) -> None:
        """A cautious driver: brake for anything in the ego corridor we would reach too fast."""
        need = 0.0
        half = self.config.lane_width_m / 2
        for a in self.agents:
            z = a.s - self.ego_s
            if z <= 0 or z > 60 or abs(a.x) > half + a.width / 2 - 0.4:
                continue
            closing = self.ego_speed - a.speed
            gap = z - 6.0
            if closing > 0:
                need = max(need, 8.0 if gap <= 0.5 else closing**2 / (2 * gap))
        if need > 1.0:
            self.ego_speed = max(0.0, self.ego_speed - min(8.0, 1.3 * need) * dt)
        elif self.ego_speed < self.ego_target:
            self.ego_speed = min(self.ego_target, self.ego_speed + 1.2 * dt)

    def _behave(self, a: Agent, dt: float) -> None:
        c, rng = self.config, self.rng
        if a.class_id == CAR and a.t_event(self.t, "brake"):
            a.target_speed, a.braking = 0.0, True
            a.brake_at = math.inf
        if a.braking and abs(a.speed) < 0.05:
            a.stopped_for += dt
            if a.stopped_for > 2.5:  # drive on again
                a.braking, a.target_speed, a.decel = False, float(rng.uniform(*c.car_speed_mps)), 3.0
        if a.class_id == CAR and a.t_event(self.t, "cut"):
            a.vx = math.copysign(float(rng.uniform(0.8, 1.4)), (a.target_x or 0.0) - a.x)
            a.cut_at = math.inf
        if a.target_x is not None and a.vx and (a.target_x - a.x) * a.vx <= 0:
            a.x, a.vx, a.target_x = a.target_x, 0.0, None
        if a.class_id != CAR and a.t_event(self.t, "cross"):
            a.target_x = self._sidewalk_x(-1.0 if a.x > 0 else 1.0)
            lateral = (1.2, 2.0) if a.class_id == PEDESTRIAN else (2.5, 4.5)
            a.vx = math.copysign(float(rng.uniform(*lateral)), a.target_x - a.x)
            a.speed = a.target_speed = 0.0
            a.facing, a.cross_at = "side", math.inf
        if a.class_id != CAR and a.facing == "side" and a.vx == 0.0 and a.target_x is None \
                and a.cross_at == math.inf and rng.random() < 0.5 * dt:
            lo, hi = c.pedestrian_speed_mps if a.class_id == PEDESTRIAN else c.cyclist_speed_mps
            a.facing, a.speed = "rear", float(rng.uniform(lo, hi))
            a.target_speed = a.speed
        if not a.braking and a.vx == 0.0 and rng.random() < c.speed_change_per_s * dt:
            lo, hi = (c.car_speed_mps, c.pedestrian_speed_mps, c.cyclist_speed_mps)[a.class_id]
            if a.facing == "front":
                lo, hi = -c.oncoming_speed_mps[1], -c.oncoming_speed_mps[0]
            if a.class_id != PEDESTRIAN or a.facing == "rear":
                a.target_speed = math.copysign(float(rng.uniform(lo, hi)), a.speed or 1.0)
        diff = a.target_speed - a.speed
        rate = (a.decel if diff * a.speed < 0 or a.braking else 2.0) * dt
        a.speed += max(-rate, min(rate, diff))

    def _follow(self) -> None:
        """Same-lane traffic keeps a gap: a follower never drives faster than its leader when close."""
        movers = [a for a in self.agents if a.class_id != PEDESTRIAN]
        for a in movers:
            for b in movers:
                if b is a or abs(b.x - a.x) > 1.4 or a.speed * b.speed < 0:
                    continue
                ahead = (b.s - a.s) * (1 if a.speed >= 0 else -1)
                if 0 < ahead < a.length + 4.0 + abs(a.speed) and abs(a.speed) > abs(b.speed):
                    a.speed = b.speed


def _random_color(rng: np.random.Generator, dark: bool = False) -> tuple[int, int, int]:
    hi = 110 if dark else 240
    return tuple(int(v) for v in rng.integers(15, hi, 3))

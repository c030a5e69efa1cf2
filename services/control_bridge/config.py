"""``BridgeConfig``: thresholds of the warning/brake state machine and the ego-lane corridor."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BridgeConfig:
    """Enter thresholds switch a level on; the looser exit thresholds must hold (and ``min_hold_s``
    must have passed) before it switches off, so a noisy TTC near a threshold does not flicker.
    Wider gaps between enter and exit mean steadier outputs but later releases."""

    warn_enter_ttc_s: float = 2.7
    """Warn when the lead's time to collision drops below this. Higher warns earlier, more false alarms."""
    warn_exit_ttc_s: float = 3.5
    brake_enter_ttc_s: float = 1.5
    """Request braking below this TTC. Higher brakes earlier (safer, more unneeded brakes)."""
    brake_exit_ttc_s: float = 2.0
    warn_enter_range_m: float = 6.0
    """Warn when the lead is closer than this whatever its TTC (e.g. stopped close ahead)."""
    warn_exit_range_m: float = 8.0
    brake_enter_range_m: float = 3.0
    brake_exit_range_m: float = 4.5
    min_hold_s: float = 0.5
    """A level stays on at least this long once entered."""
    lane_half_width_m: float = 1.75
    """Ego corridor half width on the ground (calibrated streams): lane width / 2."""
    corridor_bottom_half_width: float = 0.3
    """Uncalibrated streams: corridor half width at the image bottom, as a fraction of image width."""
    corridor_top: float = 0.5
    """Uncalibrated streams: image row (fraction of height) where the corridor narrows to a point."""
    classes: tuple[str, ...] = ()
    """Classes that can be a lead object; empty = all."""

    def __post_init__(self) -> None:
        pairs = [("warn_enter_ttc_s", "warn_exit_ttc_s"), ("brake_enter_ttc_s", "brake_exit_ttc_s"),
                 ("warn_enter_range_m", "warn_exit_range_m"), ("brake_enter_range_m", "brake_exit_range_m")]
        for enter, exit_ in pairs:
            a, b = getattr(self, enter), getattr(self, exit_)
            if not 0 < a <= b:
                raise ValueError(f"need 0 < {enter} <= {exit_}, got {a} and {b}")
        if self.brake_enter_ttc_s > self.warn_enter_ttc_s:
            raise ValueError(f"brake_enter_ttc_s {self.brake_enter_ttc_s} must be <= warn_enter_ttc_s")
        if self.min_hold_s < 0:
            raise ValueError(f"min_hold_s must be >= 0, got {self.min_hold_s}")
        if self.lane_half_width_m <= 0:
            raise ValueError(f"lane_half_width_m must be > 0, got {self.lane_half_width_m}")
        if not 0 < self.corridor_bottom_half_width <= 0.5:
            raise ValueError(
                f"corridor_bottom_half_width must be in (0, 0.5], got {self.corridor_bottom_half_width}"
            )
        if not 0 <= self.corridor_top < 1:
            raise ValueError(f"corridor_top must be in [0, 1), got {self.corridor_top}")

"""``docs/synthetic_strip.png``: one frame from each scenario with its ground truth drawn.

    .venv/bin/python -m bench.strip [OUT.png]
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

from perception.data.synthetic import CLASSES, SCENARIOS, SceneConfig, render_scene

# (scenario, seed, frame index): picked so each panel shows its event.
PANELS = (("mixed", 0, 28), ("lead_brake", 3, 45), ("cut_in", 11, 45), ("ped_crossing", 11, 42))
COLORS = ((0, 200, 255), (60, 255, 60), (255, 120, 40))  # car, pedestrian, cyclist (BGR)
PANEL_WIDTH = 400


def make_strip(panels: tuple = PANELS, panel_width: int = PANEL_WIDTH) -> np.ndarray:
    """The strip as a ``(H, len(panels) * panel_width, 3) uint8`` BGR image."""
    images = []
    for scenario, seed, index in panels:
        if scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}")
        scene = None
        for scene in render_scene(seed=seed, frames=index + 1, config=SceneConfig(scenario=scenario)):
            pass
        images.append(_annotate(scene, scenario, panel_width))
    return np.hstack(images)


def _annotate(scene, title: str, width: int) -> np.ndarray:
    img = scene.frame.image
    k = width / img.shape[1]
    out = cv2.resize(img, (width, int(round(img.shape[0] * k))), interpolation=cv2.INTER_AREA)
    t = scene.tracks
    for box, cid, tid, rng in zip(t.xyxy * k, t.class_id, t.track_id, t.range_m):
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        color = COLORS[int(cid)]
        cv2.rectangle(out, (x1, y1), (x2, y2), color, 1, cv2.LINE_AA)
        label = f"{CLASSES[int(cid)][:3]} {int(tid)} {rng:.0f}m"
        cv2.putText(out, label, (x1, max(8, y1 - 2)), cv2.FONT_HERSHEY_PLAIN, 0.6, color, 1, cv2.LINE_AA)
    cv2.rectangle(out, (0, 0), (width, 16), (0, 0, 0), -1)
    cv2.putText(out, f"{title}  t={scene.frame.timestamp:.1f}s  ego {scene.ego_speed_mps:.0f} m/s",
                (4, 12), cv2.FONT_HERSHEY_PLAIN, 0.9, (255, 255, 255), 1, cv2.LINE_AA)
    cv2.line(out, (width - 1, 0), (width - 1, out.shape[0]), (0, 0, 0), 1)
    return out


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0]) if argv else Path("docs/synthetic_strip.png")
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), make_strip())
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

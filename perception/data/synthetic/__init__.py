"""Synthetic driving scenes: the embedded default data source.

A forward camera on a straight road with lanes, pavements and a skyline; cars (same direction and
oncoming), pedestrians and cyclists enter, leave, occlude one another, brake, cut in and cross;
lighting, shade, blur and sensor noise vary. Ground truth per frame: boxes, track IDs, classes,
visibility and true range in metres. Deterministic for a seed: same arguments, same bytes.

- ``render_scene`` / ``render_sequence``: frames in memory (``SceneFrame`` or ``(Frame, Tracks)``).
- ``write_sequence`` / ``write_dataset``: MOTChallenge folders plus ``dataset.yaml``.
"""

from perception.data.synthetic.config import CLASSES, SCENARIOS, SceneConfig
from perception.data.synthetic.render import SceneFrame, render_scene, render_sequence
from perception.data.synthetic.writer import dataset_splits, sequence_seed, write_dataset, write_sequence

__all__ = [
    "CLASSES",
    "SCENARIOS",
    "SceneConfig",
    "SceneFrame",
    "dataset_splits",
    "render_scene",
    "render_sequence",
    "sequence_seed",
    "write_dataset",
    "write_sequence",
]

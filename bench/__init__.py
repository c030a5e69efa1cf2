"""Benchmarks: `make bench` runs them all and prints their tables."""


def shipped_detector_config():
    """The detector config the project ships: ``params.yaml`` ``detector:`` then ``train:`` keys (what
    ``percept train`` and the retrain flow use)."""
    from pathlib import Path

    from perception.config import load_params
    from perception.models.config import config_from_params

    return config_from_params(load_params(Path(__file__).resolve().parents[1] / "params.yaml"))

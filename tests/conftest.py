"""Test isolation: every run gets its own PERCEPT_HOME, Prefect, Ray, MLflow and DVC state.

The environment is set at import time of this conftest, before any test module imports Prefect
or Ray, so nothing touches ~/.prefect, ~/.ray, /var/tmp/dvc or a configured server.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

_RUN_DIR = Path(tempfile.mkdtemp(prefix="percept-tests-"))
for _var in ("PREFECT_API_URL", "MLFLOW_TRACKING_URI", "RAY_ADDRESS", "PREFECT_PROFILES_PATH"):
    os.environ.pop(_var, None)
os.environ.update(
    {
        "PERCEPT_HOME": str(_RUN_DIR / "home"),
        "PREFECT_HOME": str(_RUN_DIR / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "DVC_NO_ANALYTICS": "1",
        # DVC 3 reads these before any config file (dvc/dirs.py): per-repo state and the
        # user's and system's DVC config never leave the run folder.
        "DVC_SITE_CACHE_DIR": str(_RUN_DIR / "dvc-site"),
        "DVC_GLOBAL_CONFIG_DIR": str(_RUN_DIR / "dvc-global"),
        "DVC_SYSTEM_CONFIG_DIR": str(_RUN_DIR / "dvc-system"),
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_TMPDIR": str(_RUN_DIR / "ray"),
        "MPLBACKEND": "Agg",
        "GIT_AUTHOR_NAME": "percept-tests",
        "GIT_AUTHOR_EMAIL": "tests@percept.invalid",
        "GIT_COMMITTER_NAME": "percept-tests",
        "GIT_COMMITTER_EMAIL": "tests@percept.invalid",
    }
)

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def test_data() -> Path:
    """``tests/data``: small copies of real data (MOT15 text files, COCO subset, a vtest clip)."""
    return DATA


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Unmarked tests are unit tests.
    for item in items:
        if not any(item.iter_markers(name=m) for m in ("integration", "e2e")):
            item.add_marker(pytest.mark.unit)

"""infra/ files parse and wire percept through the documented environment variables."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

INFRA = Path(__file__).resolve().parents[2] / "infra"


def _docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


@pytest.mark.parametrize("path", sorted(INFRA.rglob("*.yaml")) + [INFRA / "docker-compose.yml"], ids=str)
def test_manifest_parses(path: Path) -> None:
    docs = _docs(path)
    assert docs, f"{path} is empty"
    assert all(isinstance(d, dict) for d in docs)


def test_compose_passes_switching_variables_to_percept_processes() -> None:
    compose = _docs(INFRA / "docker-compose.yml")[0]
    for name in ("prefect-worker", "perception"):
        env = compose["services"][name]["environment"]
        for var in ("MLFLOW_TRACKING_URI", "PREFECT_API_URL", "RAY_ADDRESS", "PERCEPT_HOME"):
            assert var in env, f"{name} lacks {var}"


def test_published_ports_bind_loopback_only() -> None:
    compose = _docs(INFRA / "docker-compose.yml")[0]
    for name, svc in compose["services"].items():
        for port in svc.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} on all interfaces"


def test_kuberay_worker_group_asks_one_gpu_per_pod() -> None:
    (cluster,) = _docs(INFRA / "k8s" / "raycluster.yaml")
    assert cluster["kind"] == "RayCluster"
    (group,) = cluster["spec"]["workerGroupSpecs"]
    limits = group["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits["nvidia.com/gpu"] == 1

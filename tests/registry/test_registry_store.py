"""Where the registry lives, how a session behaves, and how an unreachable store surfaces."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests
from mlflow.exceptions import MlflowException

from registry.store import (
    RegistryConfig,
    RegistryUnavailable,
    check_name,
    ensure_experiment,
    is_remote,
    redact,
    registry_config,
    session,
    tracking_uri,
    unreachable_cause,
)


@pytest.mark.parametrize(
    "env_uri, expected",
    [
        (None, "sqlite:///{home}/mlflow.db"),
        ("", "sqlite:///{home}/mlflow.db"),
        ("http://mlflow:5000", "http://mlflow:5000"),
        ("sqlite:////data/other.db", "sqlite:////data/other.db"),
    ],
)
def test_tracking_uri(env_uri, expected, tmp_path, monkeypatch):
    monkeypatch.setenv("PERCEPT_HOME", str(tmp_path))
    if env_uri is None:
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    else:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", env_uri)
    assert tracking_uri() == expected.format(home=tmp_path)


@pytest.mark.parametrize(
    "uri, remote",
    [
        ("http://h:5000", True),
        ("https://h", True),
        ("databricks", True),
        ("sqlite:///x.db", False),
        ("", False),
    ],
)
def test_is_remote(uri, remote):
    assert is_remote(uri) is remote


@pytest.mark.parametrize(
    "uri, expected",
    [
        ("http://h:5000", "http://h:5000"),
        ("http://bob:secret@h:5000/x", "http://***@h:5000/x"),
        ("sqlite:////tmp/m.db", "sqlite:////tmp/m.db"),
        ("", ""),
    ],
)
def test_redact_hides_credentials(uri, expected):
    assert redact(uri) == expected


def _chained(inner: BaseException) -> MlflowException:
    try:
        try:
            raise inner
        except BaseException:
            raise MlflowException("API request to http://h/api failed")  # implicit __context__
    except MlflowException as exc:
        return exc


@pytest.mark.parametrize(
    "exc, cause",
    [
        (MlflowException("Registered model alias champion not found."), None),
        (ValueError("bad"), None),
        (_chained(requests.exceptions.ConnectionError("refused")), "ConnectionError"),
        (_chained(requests.exceptions.ReadTimeout("slow")), "ReadTimeout"),
        (_chained(KeyError("x")), None),
        (ConnectionRefusedError(), "ConnectionRefusedError"),
    ],
)
def test_unreachable_cause(exc, cause):
    assert unreachable_cause(exc) == cause


@pytest.mark.parametrize(
    "name, exc",
    [("percept-detector", None), ("cam 3/left", None), ("", ValueError), ("  ", ValueError),
     ("o'neil", ValueError), ('a"b', ValueError), ("a`b", ValueError), ("a\\b", ValueError), (3, ValueError)],
)
def test_check_name(name, exc):
    if exc is None:
        assert check_name(name) == name
    else:
        with pytest.raises(exc):
            check_name(name)


@pytest.mark.parametrize(
    "params, expected, exc",
    [
        (None, RegistryConfig(), None),
        ({"registry": {"model_name": "cam-a"}}, RegistryConfig(model_name="cam-a"), None),
        ({"registry": {"model": "cam-a"}}, None, ValueError),
        ({"registry": {"experiment": ""}}, None, ValueError),
        ({"registry": {"model_name": "cam'a"}}, None, ValueError),
    ],
)
def test_registry_config(params, expected, exc):
    if exc is not None:
        with pytest.raises(exc):
            registry_config(params)
    else:
        assert registry_config(params) == expected


@pytest.mark.parametrize("user_value", [None, "5"])
def test_session_shortens_retries_only_inside_and_only_if_unset(user_value, tmp_path, monkeypatch):
    var = "MLFLOW_HTTP_REQUEST_MAX_RETRIES"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # a client is made, never used
    if user_value is None:
        monkeypatch.delenv(var, raising=False)
    else:
        monkeypatch.setenv(var, user_value)
    with session():
        inside = os.environ.get(var)
    assert inside == (user_value or "2")
    assert os.environ.get(var) == user_value


@pytest.mark.integration
def test_ensure_experiment_is_idempotent_and_keeps_artifacts_under_home(registry_home: Path):
    first = ensure_experiment("percept-retrain")
    assert ensure_experiment("percept-retrain") == first
    with session() as c:
        location = c.get_experiment(first).artifact_location
    assert location == (registry_home / "mlartifacts" / "percept-retrain").as_uri()


@pytest.mark.integration
def test_unreachable_server_is_one_exception_naming_the_uri(closed_port, monkeypatch):
    uri = f"http://127.0.0.1:{closed_port}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    with pytest.raises(RegistryUnavailable) as info:
        ensure_experiment("percept-retrain")
    assert uri in str(info.value) and "MLFLOW_TRACKING_URI" in str(info.value)


@pytest.mark.parametrize("name, exc", [("", ValueError), ("  ", ValueError)])
def test_ensure_experiment_rejects_empty_name(name, exc):
    with pytest.raises(exc):
        ensure_experiment(name)

"""``percept retrain`` reports each finished epoch while the flow runs."""

from __future__ import annotations

import json
import threading
import time

import flows.candidates  # noqa: F401  (the watcher imports these, as the CLI already has: warm them
import flows.retrain  # noqa: F401  so the test times only the loop)
from cli.retrain import _report_epochs


def test_each_new_epoch_is_printed_once_and_old_runs_are_ignored(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("PERCEPT_HOME", str(tmp_path))
    started = time.time()
    old = tmp_path / "candidates" / "old-run"
    old.mkdir(parents=True)
    (old / "progress.json").write_text(json.dumps({"epoch": 9, "pid": 1, "time": started - 100}))
    work = tmp_path / "candidates" / "abc123"
    work.mkdir()
    stop = threading.Event()
    watcher = threading.Thread(target=_report_epochs, args=(started, stop, 0.05))
    watcher.start()
    for epoch in (1, 1, 2):
        (work / "progress.json").write_text(json.dumps({"epoch": epoch, "pid": 2, "time": time.time()}))
        time.sleep(0.2)
    stop.set()
    watcher.join(timeout=5)
    out = capsys.readouterr().out
    assert out.count("candidate abc123: epoch 1 done") == 1
    assert "candidate abc123: epoch 2 done" in out
    assert "old-run" not in out

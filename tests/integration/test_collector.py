"""A served process tunes the garbage collector and freezes what it started with
(ADR 0031); the tests' own apps, many per process, leave the interpreter's settings alone.
Each case runs in a child process: gc's settings are process-wide."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from service.config.collector import THRESHOLDS

PROBE = """
import gc, json
from fastapi.testclient import TestClient
from service.http.app import app_from_environment, create_app
from service.bootstrap import bootstrap
from service.config.settings import load_settings
before = (gc.get_threshold(), gc.get_freeze_count())
if {served}:
    app = app_from_environment()
else:
    svc = bootstrap(load_settings())
    app = create_app(svc.read_side, run_projections=False)
with TestClient(app) as client:
    status = client.get("/healthz").status_code
    during = (gc.get_threshold(), gc.get_freeze_count())
print(json.dumps({{"status": status, "before": before, "during": during}}))
"""


def probe(tmp_path: Path, served: bool) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(served=served)],
        env={"SUBLEDGER_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_a_served_app_tunes_the_collector_and_freezes_its_startup_heap(tmp_path: Path) -> None:
    found = probe(tmp_path, served=True)
    assert found["status"] == 200
    (threshold, frozen_before), (tuned, frozen) = found["before"], found["during"]  # type: ignore[misc]
    assert threshold == [700, 10, 10] and frozen_before == 0
    assert tuned == list(THRESHOLDS)
    # Modules, routes and schemas: far more than a handful of objects.
    assert frozen > 50_000


def test_an_app_built_by_a_test_keeps_the_interpreters_settings(tmp_path: Path) -> None:
    found = probe(tmp_path, served=False)
    assert found["status"] == 200
    assert found["during"] == [[700, 10, 10], 0]

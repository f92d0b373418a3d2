"""API keys never appear in full in what ``loadtest``, ``validate`` and the target print or write.

``throttlesim loadtest`` (against the emulated target) and ``throttlesim validate``
(``--target emulated``, then ``--json``) run for 2 s on
``scenarios/validation/usage_plan_keys.toml``, with one more key given in the
environment (``THROTTLESIM_API_KEY_KEYLESS``); every file written and every byte of
stdout and stderr is searched for each key.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

import simulator
from simulator.redact import redact_key

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "validation" / "usage_plan_keys.toml"
ENV_KEY = "env-secret-key-5d1c0ffee0123456789"

needs_locust = pytest.mark.skipif(importlib.util.find_spec("locust") is None, reason="Locust is not installed")


def test_redact_key_shows_four_characters_and_a_short_hash() -> None:
    assert redact_key("paid-key-0000") == "paid…#085f"
    assert redact_key("paid-key-0001") != redact_key("paid-key-0000")  # same start, another hash
    assert redact_key("abc") == "a…#ba78"  # never more than half of a short key
    assert redact_key("") == "…#e3b0"


def _keys() -> list[str]:
    keys = [c.api_key for c in simulator.load_scenario(SCENARIO).clients if c.api_key]
    assert len(keys) == 2
    return [*keys, ENV_KEY]


def _leaks(blobs: dict[str, bytes], keys: list[str]) -> list[tuple[str, str]]:
    return [(name, key) for name, blob in blobs.items() for key in keys if key.encode() in blob]


def _files(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.realtime
@needs_locust
def test_no_key_is_printed_or_written_in_full(tmp_path: Path) -> None:
    env = {**os.environ, "THROTTLESIM_API_KEY_KEYLESS": ENV_KEY}
    cli = [sys.executable, "-m", "simulator.cli"]
    blobs: dict[str, bytes] = {}
    # Bounded: 2 s of load each, plus start-up and the model's runs; the timeouts only guard against a hang.
    serve = subprocess.Popen([sys.executable, "-m", "loadtests.target.serve", str(SCENARIO), "--port", "0",
                              "--duration-limit", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        assert serve.stdout is not None
        line = serve.stdout.readline()
        blobs["serve stdout"] = line
        host = line.decode().strip().removeprefix("listening on ")
        runs = {
            "loadtest": [*cli, "loadtest", str(SCENARIO), "--host", host, "--duration", "2s",
                         "--out", str(tmp_path / "lt")],
        }
        for name, cmd in runs.items():
            done = subprocess.run(cmd, capture_output=True, env=env, timeout=180)
            assert done.returncode == 0, done.stderr
            blobs[f"{name} stdout"], blobs[f"{name} stderr"] = done.stdout, done.stderr
    finally:
        serve.terminate()
        out, err = serve.communicate(timeout=30)
        blobs["serve stdout"] += out
        blobs["serve stderr"] = err
    for name, extra in {"validate": [], "validate --json": ["--json"]}.items():
        out = tmp_path / name.replace(" --", "-")
        cmd = [*cli, "validate", str(SCENARIO), "--target", "emulated", "--duration", "2s", "--seeds", "1",
               "--out", str(out), *extra]
        done = subprocess.run(cmd, capture_output=True, env=env, timeout=300)
        assert done.returncode in (0, 1), done.stderr  # 1: the model disagreed, which is not this test's concern
        blobs[f"{name} stdout"], blobs[f"{name} stderr"] = done.stdout, done.stderr
    blobs.update(_files(tmp_path))
    assert (tmp_path / "lt" / "attempts.csv").exists() and (tmp_path / "validate" / "validation.json").exists()
    assert _leaks(blobs, _keys()) == []

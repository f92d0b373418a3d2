"""No command prints or writes a scenario's API key in full (only ``quota --show-keys`` does).

A scenario's ``api_key`` may be a real staging key. This runs every command that reads a
scenario on the shipped usage-plan scenario, and on a broken copy of it whose errors name
the keys' clients, and looks for any of its keys in everything printed and every file
written.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "rest_usage_plans.toml"
KEYS = {c["api_key"] for c in tomllib.loads(SCENARIO.read_text())["clients"] if "api_key" in c}


def throttlesim(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simulator.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def leaked(text: str) -> set[str]:
    return {k for k in KEYS if k in text}


@pytest.mark.parametrize("args", [
    ("run", "{s}", "--engine", "simpy", "--set", "duration=20s"),
    ("run", "{s}", "--engine", "simpy", "--set", "duration=20s", "--json", "--records", "{t}/r.csv",
     "--timeseries", "{t}/ts.csv", "--plots", "{t}"),
    ("check", "{s}"),
    ("cost", "{s}", "--set", "duration=20s"),
    ("cost", "{s}", "--set", "duration=20s", "--compare", "--set", "functions.orders.memory_mb=1024"),
    ("quota", "{s}"),
    ("quota", "{s}", "--json"),
    ("sweep", "{s}", "--set", "duration=20s", "--vary", "functions.orders.memory_mb=256,512", "--workers", "1",
     "--json", "--out", "{t}/sweep.csv"),
])
def test_no_command_prints_or_writes_a_key(tmp_path, args):
    done = throttlesim(*(a.format(s=SCENARIO, t=tmp_path) for a in args), cwd=tmp_path)
    assert done.returncode in (0, 1), done.stderr
    assert not leaked(done.stdout) and not leaked(done.stderr)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert not leaked(path.read_bytes().decode("utf-8", "replace")), path.name


def test_errors_about_keys_name_them_redacted(tmp_path):
    text = SCENARIO.read_text()
    key = next(iter(sorted(KEYS)))
    # The same key in two usage plans: the loader's error must say which key without showing it.
    broken = tmp_path / "broken.toml"
    extra = ('\n[[clients]]\nname = "dup"\napi_key = "KEY"\nusage_plan = "paid"\n'
             'routes = { "GET /orders" = 1 }\narrivals = { process = "poisson", rate = 1 }\n')
    broken.write_text(text + extra.replace("KEY", key))
    done = throttlesim("check", str(broken), cwd=tmp_path)
    assert done.returncode == 2
    assert not leaked(done.stdout + done.stderr)
    from simulator.redact import redact_key

    assert f"API key {redact_key(key)} is already in usage plan" in done.stderr


def test_show_keys_prints_them():
    done = throttlesim("quota", str(SCENARIO), "--json", "--show-keys", cwd=ROOT)
    assert leaked(done.stdout)

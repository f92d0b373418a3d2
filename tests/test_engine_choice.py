"""``engine="auto"`` on a machine where the fast engine is or is not compiled yet."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import simulator
from simulator.engine import choice
from simulator.scenario.scale import scale_scenario

ROOT = Path(__file__).resolve().parents[1]
REST = ROOT / "scenarios" / "rest_usage_plans.toml"

pytest.importorskip("numba")


def test_expected_requests_in_closed_form():
    # free-poller 8/s and free-casual 0.5/s for 600 s, paid-shop 10 -> 80/s over 5 min then 80/s,
    # no-key 0.2/s: 4,800 + 300 + 13,500 + 24,000 + 120.
    assert choice.expected_requests(simulator.load_scenario(REST)) == pytest.approx(42_720)
    http = simulator.load_scenario(ROOT / "scenarios" / "http_api_routes.toml")
    assert choice.expected_requests(scale_scenario(http, 2)) == pytest.approx(2 * choice.expected_requests(http))


def test_cold_auto_runs_small_scenarios_on_simpy_and_large_ones_fast(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(choice, "fast_engine_cached", lambda: False)
    small = simulator.load_scenario(REST, overrides={"duration": "20s"})
    r = simulator.simulate(small, engine="auto")
    assert r.engine == "simpy" and "not compiled" in r.engine_note and "warmup" in r.engine_note
    assert choice.compile_notice(small, "auto") is None
    assert "compiling the fast engine" in choice.compile_notice(small, "fast")
    large = scale_scenario(simulator.load_scenario(REST), 30)  # about 1.3 M requests
    assert choice.prefer_simpy(large) is None
    assert "compiling the fast engine" in choice.compile_notice(large, "auto")
    assert choice.compile_notice(large, "simpy") is None


def test_warm_auto_runs_the_fast_engine(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(choice, "fast_engine_cached", lambda: True)
    s = simulator.load_scenario(REST, overrides={"duration": "20s"})
    assert choice.prefer_simpy(s) is None and choice.compile_notice(s, "auto") is None
    assert simulator.simulate(s, engine="auto").engine == "fast"


def test_the_cache_counts_only_when_newer_than_the_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    source = tmp_path / "fast_loop.py"
    source.write_text("")
    monkeypatch.setattr(choice, "_LOOP", source)
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    assert not choice.fast_engine_cached()
    (tmp_path / "__pycache__").mkdir()
    index = tmp_path / "__pycache__" / "fast_loop.run-46.py311.nbi"
    index.write_bytes(b"")
    os.utime(source, (100, 100))
    os.utime(index, (200, 200))
    assert choice.fast_engine_cached()
    os.utime(source, (300, 300))  # the source changed since: numba recompiles
    assert not choice.fast_engine_cached()
    elsewhere = tmp_path / "numba-cache" / "deep"
    elsewhere.mkdir(parents=True)
    (elsewhere / "fast_loop.run-46.py311.nbi").write_bytes(b"")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba-cache"))
    assert choice.fast_engine_cached()


def test_with_a_cache_dir_the_source_folder_does_not_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """numba reads only NUMBA_CACHE_DIR when it is set: a compiled loop next to the source is not used."""
    source = tmp_path / "fast_loop.py"
    source.write_text("")
    monkeypatch.setattr(choice, "_LOOP", source)
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "fast_loop.run-46.py311.nbi").write_bytes(b"")
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    assert choice.fast_engine_cached()
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "empty-cache"))
    assert not choice.fast_engine_cached()
    (tmp_path / "empty-cache").mkdir()
    assert not choice.fast_engine_cached()

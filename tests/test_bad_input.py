"""Malformed input: every mistake a user can make ends in one line that says where and what.

Each case starts from a small valid scenario, breaks one thing, writes it as TOML and
loads it twice: through the Python API (``simulator.load_scenario`` raising
``ScenarioError`` whose ``str()`` is ``<file>: <key path>: <message>``) and through the
command line in a fresh interpreter (exit code 2, exactly one line on stderr naming the
file and the key, no traceback).
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import simulator

BASE: dict[str, Any] = {
    "name": "bad-input-base",
    "duration": "1m",
    "seed": 1,
    "routes": [{"name": "GET /orders", "function": "orders"}],
    "functions": [{"name": "orders", "memory_mb": 512, "timeout": "10s", "duration": "50ms"}],
    "clients": [
        {"name": "web", "routes": {"GET /orders": 1}, "arrivals": {"process": "poisson", "rate": 5}},
    ],
}


# --------------------------------------------------------------------------- writing TOML


def _key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k)


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string is a valid TOML basic string for these texts
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {v!r} as TOML")


def _is_table_array(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def to_toml(data: dict[str, Any]) -> str:
    """TOML text for a scenario dict: top-level keys, then [tables] and [[arrays of tables]]."""
    lines = [f"{_key(k)} = {_value(v)}" for k, v in data.items() if not isinstance(v, dict) and not _is_table_array(v)]
    for k, v in data.items():
        if isinstance(v, dict):
            lines += ["", f"[{_key(k)}]", *(f"{_key(a)} = {_value(b)}" for a, b in v.items())]
        elif _is_table_array(v):
            for item in v:
                lines += ["", f"[[{_key(k)}]]", *(f"{_key(a)} = {_value(b)}" for a, b in item.items())]
    return "\n".join(lines) + "\n"


def test_base_scenario_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "base.toml"
    path.write_text(to_toml(BASE))
    assert simulator.load_scenario(path).name == "bad-input-base"


# --------------------------------------------------------------------------- helpers


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simulator.cli", "run", *args],
        capture_output=True, text=True, cwd=cwd, timeout=120,
    )


def api_error(path: Path, **kwargs: Any) -> str:
    with pytest.raises(simulator.ScenarioError) as info:
        simulator.load_scenario(path, **kwargs)
    return str(info.value)


def assert_one_line(text: str) -> None:
    assert text.strip(), "no message at all"
    assert "\n" not in text.rstrip("\n"), f"more than one line:\n{text}"
    assert "Traceback" not in text


def assert_cli_one_line(proc: subprocess.CompletedProcess[str]) -> str:
    """Exit code 2, one line on stderr, no traceback anywhere; returns the line."""
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert proc.stderr.endswith("\n") and proc.stderr.count("\n") == 1, f"not one line:\n{proc.stderr}"
    return proc.stderr.rstrip("\n")


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A change to the base dict: set the dotted *path* (list items by index) to *value*."""

    def apply(data: dict[str, Any]) -> None:
        parts = path.split(".")
        node: Any = data
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        node[parts[-1]] = value

    return apply


# --------------------------------------------------------------------------- scenario cases


@dataclass
class Case:
    """A scenario broken in one place, and the line it must give."""

    changes: list[Callable[[dict[str, Any]], None]]
    #: The key path, or a tuple of key paths that are all acceptable.
    key: str | tuple[str, ...]
    message: str
    #: True: the line is exactly ``<file>: <key>: <message>``; False: it starts with
    #: ``<file>: <key>: `` and contains every part of ``message`` split on "...".
    exact: bool = True
    files: dict[str, str] = field(default_factory=dict)

    def write(self, tmp_path: Path) -> Path:
        data = copy.deepcopy(BASE)
        for change in self.changes:
            change(data)
        for name, text in self.files.items():
            (tmp_path / name).write_text(text)
        path = tmp_path / "scenario.toml"
        path.write_text(to_toml(data))
        return path

    def check(self, line: str, path: Path, tmp_path: Path) -> None:
        assert_one_line(line)
        keys = (self.key,) if isinstance(self.key, str) else self.key
        prefixes = [f"{path}: {key}: " for key in keys]
        prefix = next((p for p in prefixes if line.startswith(p)), None)
        assert prefix is not None, f"{line!r} does not start with any of {prefixes}"
        message = self.message.replace("{tmp}", str(tmp_path))
        if self.exact:
            assert line == prefix + message
        else:
            for part in message.split("..."):
                assert part in line, (part, line)


HTTP_PLAN = {"name": "free", "throttle": {"rate": 5, "burst": 10}}

CASES = {
    "memory_mb_too_small": Case(
        [_set("functions.0.memory_mb", 64)],
        "functions[0].memory_mb", "must be between 128 and 10240, got 64",
    ),
    "unknown_key_did_you_mean": Case(
        [_set("functions.0.memroy_mb", 1024)],
        "functions[0].memroy_mb", "unknown key (did you mean 'memory_mb'?)",
    ),
    "unknown_top_level_table_did_you_mean": Case(
        [_set("acount", {"lambda_concurrency": 2000})],
        "acount", "unknown key (did you mean 'account'?)",
    ),
    "unknown_top_level_table": Case(
        [_set("metrics", {"namespace": "orders"})],
        "metrics", "unknown key",
    ),
    "negative_rate": Case(
        [_set("clients.0.arrivals.rate", -5)],
        "clients[0].arrivals.rate", "must be >= 0, got -5",
    ),
    "negative_rate_in_profile": Case(
        [_set("clients.0.arrivals.rate", [["0s", 5], ["30s", -1]])],
        "clients[0].arrivals.rate", "profile rates must be >= 0, got -1",
    ),
    "bad_duration_in_profile": Case(
        [_set("clients.0.arrivals.rate", [["0x", 5], ["30s", 10]])],
        "clients[0].arrivals.rate[0][0]", "expected a duration such as '250ms', '29s', '10m' or '1h30m' "
        "(units: us, ms, s, m, h, d), got '0x'",
    ),
    "cache_ttl_negative": Case(
        [_set("stage.cache", {"capacity_gb": 0.5, "ttl": "-5s"})],
        "stage.cache.ttl", "expected a duration such as ...got '-5s'", exact=False,
    ),
    "cache_ttl_above_an_hour": Case(
        [_set("stage.cache", {"capacity_gb": 0.5, "ttl": "2h"})],
        "stage.cache.ttl", "must be between 0 and 3600 seconds, got 7200",
    ),
    "method_cache_ttl_above_an_hour": Case(
        [_set("stage.cache", {"capacity_gb": 0.5}), _set("routes.0.cache", {"ttl": "3601s"})],
        "routes[0].cache.ttl", "must be between 0 and 3600 seconds, got 3601",
    ),
    "unknown_cache_size": Case(
        [_set("stage.cache", {"capacity_gb": 2})],
        "stage.cache.capacity_gb", "must be one of 0.5, 1.6, 6.1, 13.5, 28.4, 58.2, 118, 237 (GB), got 2",
    ),
    "http_api_with_a_cache": Case(
        [_set("api", {"type": "HTTP"}), _set("stage.cache", {"capacity_gb": 0.5}),
         _set("routes.0.cache", {"ttl": "10s"})],
        "stage.cache", "an HTTP API has no cache (the API cache is a REST API feature)",
    ),
    "cache_keys_without_key_parameters": Case(
        [_set("stage.cache", {"capacity_gb": 0.5}), _set("routes.0.cache", {"keys": {"count": 10}})],
        "routes[0].cache.keys.count",
        "10 keys on route 'GET /orders' need key_parameters (without them the route has one cache entry)",
    ),
    "duration_without_unit": Case(
        [_set("functions.0.timeout", 30)],
        "functions[0].timeout", "must be a duration string with a unit such as '250ms', '29s' or '10m', got 30",
    ),
    "run_duration_without_unit": Case(
        [_set("duration", 600)],
        "duration", "must be a duration string with a unit...got 600", exact=False,
    ),
    "bad_duration_string": Case(
        [_set("functions.0.timeout", "30 secs")],
        "functions[0].timeout", "expected a duration such as '250ms'...got '30 secs'", exact=False,
    ),
    "wrong_distribution_kind": Case(
        [_set("functions.0.duration", {"kind": "lognormol", "median": "50ms", "p99": "200ms"})],
        "functions[0].duration.kind", "got 'lognormol' (did you mean 'lognormal'?)", exact=False,
    ),
    "unknown_process": Case(
        [_set("clients.0.arrivals.process", "posson")],
        "clients[0].arrivals.process", "got 'posson' (did you mean 'poisson'?)", exact=False,
    ),
    "route_to_unknown_function": Case(
        [_set("routes.0.function", "order")],
        "routes[0].function", "unknown function 'order' (did you mean 'orders'?); known: orders",
    ),
    "client_to_unknown_route": Case(
        [_set("clients.0.routes", {"GET /order": 1})],
        "clients[0].routes", "unknown route 'GET /order' (did you mean 'GET /orders'?); known: GET /orders",
    ),
    "unknown_usage_plan": Case(
        [
            _set("api", {"api_key_required": True}),
            _set("usage_plans", [HTTP_PLAN]),
            _set("clients.0.api_key", "k" * 30),
            _set("clients.0.usage_plan", "fre"),
        ],
        "clients[0].usage_plan", "unknown usage plan 'fre' (did you mean 'free'?); known: free",
    ),
    "usage_plans_on_http_api": Case(
        [_set("api", {"type": "HTTP"}), _set("usage_plans", [HTTP_PLAN])],
        "usage_plans", "HTTP APIs have no usage plans; use a REST API",
    ),
    "client_usage_plan_on_http_api": Case(
        [_set("api", {"type": "HTTP"}), _set("clients.0.api_key", "k" * 30), _set("clients.0.usage_plan", "free")],
        "clients[0].usage_plan", "HTTP APIs have no usage plans",
    ),
    "reserved_over_account": Case(
        [_set("functions.0.reserved_concurrency", 950)],
        "functions",
        "reserved concurrency adds up to 950, more than the 900 the account can reserve "
        "(lambda_concurrency 1000 minus unreserved_min 100)",
    ),
    "provisioned_over_reserved": Case(
        [_set("functions.0.reserved_concurrency", 10), _set("functions.0.provisioned_concurrency", 20)],
        "functions[0].provisioned_concurrency", "must not exceed reserved_concurrency (10), got 20",
    ),
    "lognormal_p99_below_median": Case(
        [_set("functions.0.duration", {"kind": "lognormal", "median": "200ms", "p99": "50ms"})],
        "functions[0].duration", "p99 must be at least the median",
    ),
    "empirical_samples_file_missing": Case(
        [_set("functions.0.duration", {"kind": "empirical", "file": "nosuch.txt"})],
        ("functions[0].duration", "functions[0].duration.file"), "cannot read samples file {tmp}/nosuch.txt",
    ),
    "replay_time_not_a_number": Case(
        [_set("clients.0.arrivals", {"process": "replay", "file": "trace.csv"})],
        ("clients[0].arrivals", "clients[0].arrivals.file"), "{tmp}/trace.csv: line 3: time 'abc' is not a number",
        files={"trace.csv": "time_s,route\n0.5,GET /orders\nabc,GET /orders\n"},
    ),
    "replay_past_duration": Case(
        [_set("clients.0.arrivals", {"process": "replay", "file": "trace.csv"})],
        "clients[0].arrivals.file", "trace runs to 75s, past the scenario duration (60s)",
        files={"trace.csv": "0.5,GET /orders\n75,GET /orders\n"},
    ),
    "error_rate_above_one": Case(
        [_set("functions.0.error_rate", 1.5)],
        "functions[0].error_rate", "must be between 0 and 1, got 1.5",
    ),
    "authorizer_ttl_above_3600s": Case(
        [_set("authorizers", [{"name": "a", "type": "TOKEN", "function": "orders", "result_ttl": "2h"}])],
        "authorizers[0].result_ttl", "must be between 0 and 3600 seconds, got 7200",
    ),
    "authorizer_unknown_function": Case(
        [_set("functions.0.name", "orders"),
         _set("authorizers", [{"name": "a", "type": "REQUEST", "function": "order"}])],
        "authorizers[0].function", "unknown function 'order' (did you mean 'orders'?); known: orders",
    ),
    "jwt_authorizer_on_rest_api": Case(
        [_set("authorizers", [{"name": "a", "type": "JWT"}])],
        "authorizers[0].type",
        "REST APIs have no JWT authorizers; an HTTP API has them (allowed here: TOKEN, REQUEST, "
        "COGNITO_USER_POOLS, AWS_IAM)",
    ),
    "cognito_authorizer_on_http_api": Case(
        [_set("api", {"type": "HTTP"}), _set("authorizers", [{"name": "a", "type": "COGNITO_USER_POOLS"}])],
        "authorizers[0].type",
        "HTTP APIs have no COGNITO_USER_POOLS authorizers; a REST API has them (allowed here: REQUEST, JWT, AWS_IAM)",
    ),
    "route_names_unknown_authorizer": Case(
        [_set("authorizers", [{"name": "token", "type": "TOKEN", "function": "orders"}]),
         _set("routes.0.authorizer", "tokn")],
        "routes[0].authorizer", "unknown authorizer 'tokn' (did you mean 'token'?); known: token",
    ),
    "without_token_above_one": Case(
        [_set("clients.0.identities", {"count": 10, "without_token": 2.0})],
        "clients[0].identities.without_token", "must be between 0 and 1, got 2",
    ),
    "rest_integration_timeout_40s": Case(
        [_set("api", {"type": "REST", "integration_timeout": "40s"})],
        "api.integration_timeout", "must be between 50ms and 29s for a Regional REST API without "
        "api.extended_integration_timeout = true (with it, up to 300s), got 40s",
    ),
}

# Cases that once gave a poor line; each states the line a user should get.
FIXED_CASES = {
    "empirical_sample_not_a_number": (
        Case(
            [_set("functions.0.duration", {"kind": "empirical", "file": "samples.txt"})],
            "functions[0].duration.file", "{tmp}/samples.txt: sample 2 is not a number: 'x'",
            files={"samples.txt": "12.5\nx\n"},
        ),
        "the message template uses {word!r}, which pydantic does not expand: "
        "the line ends in a literal '{word!r}'",
    ),
    "route_weight_zero": (
        Case(
            [_set("clients.0.routes", {"GET /orders": 0})],
            "clients[0].routes", "weight of 'GET /orders' must be > 0, got 0",
        ),
        "the message template uses {route!r}, which pydantic does not expand: "
        "the line reads \"weight of {route!r} must be > 0\"",
    ),
    "rate_not_a_number": (
        Case(
            [_set("clients.0.arrivals.rate", "fast")],
            "clients[0].arrivals.rate", "must be a number...got 'fast'", exact=False,
        ),
        "one mistake gives two lines, one per member of the float | profile union, and the "
        "first names an internal key path 'clients[0].arrivals.rate.float'",
    ),
    "empirical_samples_file_missing_names_file_key": (
        Case(
            [_set("functions.0.duration", {"kind": "empirical", "file": "nosuch.txt"})],
            "functions[0].duration.file", "cannot read samples file {tmp}/nosuch.txt",
        ),
        "a samples-file problem is reported at 'functions[0].duration', not at the 'file' key",
    ),
    "replay_time_not_a_number_names_file_key": (
        Case(
            [_set("clients.0.arrivals", {"process": "replay", "file": "trace.csv"})],
            "clients[0].arrivals.file", "{tmp}/trace.csv: line 3: time 'abc' is not a number",
            files={"trace.csv": "time_s,route\n0.5,GET /orders\nabc,GET /orders\n"},
        ),
        "a trace that cannot be read is reported at 'clients[0].arrivals', while a trace that "
        "runs too long is reported at 'clients[0].arrivals.file'",
    ),
}

ALL_CASES = [pytest.param(case, id=name) for name, case in CASES.items()] + [
    pytest.param(case, id=name) for name, (case, _why) in FIXED_CASES.items()
]


@pytest.mark.parametrize("case", ALL_CASES)
def test_api_gives_one_line(case: Case, tmp_path: Path) -> None:
    path = case.write(tmp_path)
    case.check(api_error(path), path, tmp_path)


@pytest.mark.parametrize("case", ALL_CASES)
def test_cli_gives_one_line(case: Case, tmp_path: Path) -> None:
    path = case.write(tmp_path)
    line = assert_cli_one_line(run_cli(str(path), cwd=tmp_path))
    case.check(line, path, tmp_path)


# --------------------------------------------------------------------------- files


def test_invalid_toml(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('name = "broken"\nduration = "1m\n')
    for line in (api_error(path), assert_cli_one_line(run_cli(str(path), cwd=tmp_path))):
        assert_one_line(line)
        assert line.startswith(f"{path}: invalid TOML: ")
        assert "line 2" in line


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"
    assert api_error(path) == f"{path}: no such file"
    assert assert_cli_one_line(run_cli(str(path), cwd=tmp_path)) == f"{path}: no such file"


# --------------------------------------------------------------------------- command-line options


@pytest.fixture
def base_file(tmp_path: Path) -> Path:
    path = tmp_path / "base.toml"
    path.write_text(to_toml(BASE))
    return path


@pytest.mark.parametrize("seed", ["abc", "-1", "1.5"])
def test_cli_bad_seed(seed: str, base_file: Path, tmp_path: Path) -> None:
    line = assert_cli_one_line(run_cli(str(base_file), "--seed", seed, cwd=tmp_path))
    assert "--seed" in line and repr(seed) in line


def test_api_bad_seed(base_file: Path) -> None:
    assert api_error(base_file, seed=-1) == f"{base_file}: seed: must be >= 0, got -1"


def test_cli_set_unknown_entry(base_file: Path, tmp_path: Path) -> None:
    line = assert_cli_one_line(run_cli(str(base_file), "--set", "functions.nope.memory_mb=1024", cwd=tmp_path))
    assert line == (f"{base_file}: --set functions.nope.memory_mb: no entry named 'nope' at functions.nope; "
                    "known: orders")


def test_api_set_unknown_entry(base_file: Path) -> None:
    line = api_error(base_file, overrides={"functions.nope.memory_mb": 1024})
    assert line == (f"{base_file}: --set functions.nope.memory_mb: no entry named 'nope' at functions.nope; "
                    "known: orders")


def test_cli_set_close_entry_suggests(base_file: Path, tmp_path: Path) -> None:
    line = assert_cli_one_line(run_cli(str(base_file), "--set", "functions.order.memory_mb=1024", cwd=tmp_path))
    assert "(did you mean 'orders'?)" in line


def test_cli_set_bad_value_is_validated(base_file: Path, tmp_path: Path) -> None:
    line = assert_cli_one_line(run_cli(str(base_file), "--set", "functions.orders.memory_mb=64", cwd=tmp_path))
    assert line == f"{base_file}: functions[0].memory_mb: must be between 128 and 10240, got 64"


def test_cli_set_without_value(base_file: Path, tmp_path: Path) -> None:
    line = assert_cli_one_line(run_cli(str(base_file), "--set", "functions.orders.memory_mb", cwd=tmp_path))
    assert line == "--set functions.orders.memory_mb: expected key.path=value"


def test_cli_records_in_missing_directory(base_file: Path, tmp_path: Path) -> None:
    target = tmp_path / "no-such-dir" / "attempts.csv"
    line = assert_cli_one_line(run_cli(str(base_file), "--records", str(target), cwd=tmp_path))
    assert line == f"--records {target}: the directory does not exist"
    assert not target.exists()


def test_cli_records_path_is_a_directory(base_file: Path, tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    line = assert_cli_one_line(run_cli(str(base_file), "--records", str(target), cwd=tmp_path))
    assert line.startswith(f"--records {target}: ")


_PARQUET = importlib.util.find_spec("pyarrow") is not None or importlib.util.find_spec("fastparquet") is not None


@pytest.mark.skipif(_PARQUET, reason="a Parquet engine is installed")
def test_cli_records_parquet_without_engine(base_file: Path, tmp_path: Path) -> None:
    target = tmp_path / "attempts.parquet"
    line = assert_cli_one_line(run_cli(str(base_file), "--records", str(target), cwd=tmp_path))
    assert "--records" in line and "parquet" in line.lower()


def test_a_closed_user_that_could_spin_at_one_instant_is_refused(tmp_path: Path) -> None:
    import simulator

    data = {
        "name": "spin", "duration": "10s",
        "routes": [{"name": "GET /x", "function": "f"}],
        "functions": [{"name": "f", "duration": "10ms"}],
        "clients": [{"name": "c", "routes": {"GET /x": 1},
                     "arrivals": {"process": "closed", "users": 1, "spawn_rate": 1,
                                  "wait": {"kind": "constant", "time": "0s"}}}],
        "behaviour": {"gateway_overhead": "0s"},
    }
    with pytest.raises(simulator.ScenarioError, match=r"clients\[0\]\.arrivals\.wait: a closed user that never waits"):
        simulator.parse_scenario(data)
    data["behaviour"] = {"gateway_overhead": "1ms"}
    assert simulator.parse_scenario(data).name == "spin"

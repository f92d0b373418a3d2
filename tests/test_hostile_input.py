"""The hostile-input corpus: hundreds of malformed or extreme inputs, each refused in one line.

Every case is data: a description, the files it writes, the ``throttlesim`` arguments and a
fragment the error must contain (the key, flag or file at fault). The families are generated:
each numeric scenario key times ``nan``, ``inf``, ``-inf``, ``1e308``, ``-1``, a 40-digit
integer, a string and a boolean (in the file and through ``--set``); each kind of file
(scenario, samples, trace) times a byte-order mark, non-UTF-8 bytes, empty, binary, too
large, a directory and a missing file; each command-line flag times values it must refuse;
and the structural attacks (deep nesting, a file of unknown keys, a 5 MB value, dates past
year 9999).

``throttlesim``'s ``main(argv)`` runs in this process with stdout and stderr captured, and
each case must give exit code 2, one line on stderr (or the capped list: the first 20
problems and one line saying how many more), the fragment, no traceback, nothing on stdout
and no file written. ``test_corpus_figure`` keeps the figure the README quotes honest.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from simulator import limits
from simulator.cli.main import main

# --------------------------------------------------------------------------- the base scenario

BASE: dict[str, Any] = {
    "name": "hostile-base",
    "duration": "2s",
    "seed": 3,
    "api": {"type": "REST", "api_key_required": True, "access_log_bytes": 0},
    "account": {"throttle": {"rate": 100, "burst": 50}, "lambda_concurrency": 100, "unreserved_min": 10},
    "stage": {"throttle": {"rate": 50, "burst": 20}},
    "routes": [{"name": "GET /orders", "function": "orders", "throttle": {"rate": 40, "burst": 10},
                "request_bytes": 100}],
    "functions": [{"name": "orders", "memory_mb": 512, "timeout": "10s", "duration": "50ms",
                   "reserved_concurrency": 20, "provisioned_concurrency": 0, "error_rate": 0.0,
                   "response_bytes": 100, "ephemeral_storage_mb": 512}],
    "usage_plans": [{"name": "gold", "throttle": {"rate": 30, "burst": 5},
                     "quota": {"limit": 1000, "period": "DAY", "offset": 0}}],
    "clients": [
        {"name": "web", "api_key": "web-key-1", "usage_plan": "gold", "routes": {"GET /orders": 1},
         "arrivals": {"process": "poisson", "rate": 5, "bursts": [{"at": "1s", "count": 3}]},
         "retry": {"mode": "exponential", "max_attempts": 3, "quota": {"capacity": 50, "cost": 5}}},
        {"name": "app", "api_key": "app-key-1", "usage_plan": "gold", "routes": {"GET /orders": 1},
         "arrivals": {"process": "closed", "users": 2, "spawn_rate": 2,
                      "wait": {"kind": "constant_throughput", "rate": 1}}},
    ],
    "behaviour": {"scaling_burst": 1000, "scaling_refill_per_s": 100, "account_burst": 3000,
                  "account_burst_refill_per_s": 8},
}

#: Numeric keys: (dotted path in BASE, the key path the error names).
NUMERIC_KEYS = [
    ("seed", "seed"),
    ("api.access_log_bytes", "api.access_log_bytes"),
    ("account.throttle.rate", "account.throttle.rate"),
    ("account.throttle.burst", "account.throttle.burst"),
    ("account.lambda_concurrency", "account.lambda_concurrency"),
    ("account.unreserved_min", "account.unreserved_min"),
    ("stage.throttle.rate", "stage.throttle.rate"),
    ("stage.throttle.burst", "stage.throttle.burst"),
    ("routes.0.throttle.rate", "routes[0].throttle.rate"),
    ("routes.0.request_bytes", "routes[0].request_bytes"),
    ("functions.0.memory_mb", "functions[0].memory_mb"),
    ("functions.0.reserved_concurrency", "functions[0].reserved_concurrency"),
    ("functions.0.provisioned_concurrency", "functions[0].provisioned_concurrency"),
    ("functions.0.error_rate", "functions[0].error_rate"),
    ("functions.0.response_bytes", "functions[0].response_bytes"),
    ("functions.0.ephemeral_storage_mb", "functions[0].ephemeral_storage_mb"),
    ("usage_plans.0.throttle.rate", "usage_plans[0].throttle.rate"),
    ("usage_plans.0.quota.limit", "usage_plans[0].quota.limit"),
    ("usage_plans.0.quota.offset", "usage_plans[0].quota.offset"),
    ("clients.0.arrivals.rate", "clients[0].arrivals.rate"),
    ("clients.0.arrivals.bursts.0.count", "clients[0].arrivals.bursts[0].count"),
    ("clients.0.routes.GET /orders", "clients[0].routes"),
    ("clients.0.retry.max_attempts", "clients[0].retry.max_attempts"),
    ("clients.0.retry.quota.capacity", "clients[0].retry.quota.capacity"),
    ("clients.1.arrivals.users", "clients[1].arrivals.users"),
    ("clients.1.arrivals.spawn_rate", "clients[1].arrivals.spawn_rate"),
    ("clients.1.arrivals.wait.rate", "clients[1].arrivals.wait.rate"),
    ("behaviour.scaling_burst", "behaviour.scaling_burst"),
    ("behaviour.scaling_refill_per_s", "behaviour.scaling_refill_per_s"),
    ("behaviour.account_burst_refill_per_s", "behaviour.account_burst_refill_per_s"),
]


class Raw(str):
    """A TOML literal written as is (``nan``, ``inf``, a 40-digit integer)."""


#: Bad numbers, as TOML literals.
BAD_NUMBERS = {"nan": Raw("nan"), "inf": Raw("inf"), "-inf": Raw("-inf"), "1e308": Raw("1e308"),
               "-1": Raw("-1"), "huge_int": Raw("9" * 40), "string": "12", "bool": Raw("true")}


# --------------------------------------------------------------------------- writing TOML


def _key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k)


def toml_value(v: Any) -> str:
    if isinstance(v, Raw):
        return str(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(repr(v))


def toml(data: dict[str, Any]) -> str:
    """*data* as TOML, each top-level key on its own line with inline values."""
    return "".join(f"{_key(k)} = {toml_value(v)}\n" for k, v in data.items())


def changed(dotted: str, value: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """A copy of *base* (default BASE) with *dotted* set to *value* (list entries by index)."""
    out = json.loads(json.dumps(base or BASE))
    parts = dotted.split(".")
    node: Any = out
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if isinstance(node, list):
        node[int(parts[-1])] = value
    else:
        node[parts[-1]] = value
    return out


# --------------------------------------------------------------------------- cases


@dataclass
class Case:
    """One hostile input: files to write into a fresh directory, argv (``{dir}`` is replaced by
    that directory) and the fragment stderr must contain."""

    name: str
    argv: list[str]
    fragment: str
    files: dict[str, str | bytes] = field(default_factory=dict)
    #: A callable that prepares the directory beyond plain files (sparse files, sub-directories).
    prepare: Callable[[Path], None] | None = None
    #: The capped list (first 20 problems, then one line) instead of exactly one line.
    many_lines: bool = False
    #: Limits to lower for this case: {(module, name): value}.
    patch: dict[tuple[str, str], Any] = field(default_factory=dict)


CASES: list[Case] = []


def add(name: str, argv: list[str], fragment: str, **kw: Any) -> None:
    CASES.append(Case(name, argv, fragment, **kw))


def scenario_case(name: str, data: dict[str, Any] | str, fragment: str, command: str = "check", **kw: Any) -> None:
    text = data if isinstance(data, str) else toml(data)
    add(name, [command, "{dir}/s.toml"], fragment, files={"s.toml": text, **kw.pop("files", {})}, **kw)


# 1. Each numeric key x each bad number, in the file (check) and through --set (run).
for dotted, key in NUMERIC_KEYS:
    for label, bad in BAD_NUMBERS.items():
        fragment = key if label != "huge_int" else key.split("[")[0].split(".")[0]
        scenario_case(f"file:{dotted}={label}", changed(dotted, bad), fragment)
for dotted, key in NUMERIC_KEYS[::3]:
    for label in ("nan", "inf", "1e308", "huge_int"):
        add(f"set:{dotted}={label}", ["run", "{dir}/s.toml", "--set", f"{dotted}={BAD_NUMBERS[label]}",
                                      "--records", "{dir}/out.csv"],
            key.split("[")[0].split(".")[0], files={"s.toml": toml(BASE)})

# 2. Durations: nan-like strings, 400 digits, past 100 years, negative, bare numbers.
for dotted, key in [("duration", "duration"), ("functions.0.timeout", "functions[0].timeout"),
                    ("functions.0.duration", "functions[0].duration"),
                    ("clients.0.arrivals.bursts.0.at", "clients[0].arrivals.bursts[0].at"),
                    ("behaviour.max_environment_lifetime", "behaviour.max_environment_lifetime")]:
    for label, bad in {"400_digits": "9" * 400 + "s", "nan": "nans", "inf": "infs", "200y": "73000d",
                       "negative": "-5s", "bare": Raw("5"), "empty": ""}.items():
        scenario_case(f"duration:{dotted}={label}", changed(dotted, bad), key)

# 3. Rate profiles.
for label, profile in {"nan_rate": [["0s", 1], ["1s", Raw("nan")]], "inf_rate": [["0s", Raw("inf")]],
                       "huge_rate": [["0s", 1e12]], "negative": [["0s", -3]], "nan_time": [["nans", 1]],
                       "not_from_0": [["1s", 1]], "decreasing": [["0s", 1], ["2s", 2], ["1s", 3]],
                       "three_at_once": [["0s", 1], ["1s", 2], ["1s", 3], ["1s", 4]],
                       "point_of_3": [["0s", 1, 2]], "empty": []}.items():
    scenario_case(f"profile:{label}", changed("clients.0.arrivals.rate", profile), "clients[0].arrivals.rate")

# 4. Sizes of the run, cross-key limits and strings.
for name, dotted, value, key in [
    ("requests_over_limit", "clients.0.arrivals.rate", 9e7, "clients"),
    ("requests_over_limit_profile", "clients.0.arrivals.rate", [["0s", 1], ["1s", 9e7]], "clients"),
    ("burst_1e13", "clients.0.arrivals.bursts.0.count", 10**13, "clients[0].arrivals.bursts[0].count"),
    ("users_1e11", "clients.1.arrivals.users", 10**11, "clients[1].arrivals.users"),
    ("attempts_1e9", "clients.0.retry.max_attempts", 10**9, "clients[0].retry.max_attempts"),
    ("retry_on_200_status_0_ok_but_999", "clients.0.retry.on", [200, 999], "clients[0].retry.on"),
    ("retry_on_negative", "clients.0.retry.on", [-1], "clients[0].retry.on"),
    ("lambda_concurrency_1e12", "account.lambda_concurrency", 10**12, "account.lambda_concurrency"),
    ("quota_over_int64", "usage_plans.0.quota.limit", 2**63, "usage_plans[0].quota.limit"),
    ("unreserved_over_concurrency", "account.unreserved_min", 200, "account.unreserved_min"),
    ("api_key_empty", "clients.0.api_key", "", "clients[0].api_key"),
    ("weight_zero", "clients.0.routes.GET /orders", 0, "clients[0].routes"),
    ("weight_1e300", "clients.0.routes.GET /orders", 1e300, "clients[0].routes"),
    ("start_date_only", "start", Raw("2026-01-01"), "start"),
    ("start_year_1", "start", Raw("0001-01-01T00:00:00Z"), "start"),
    ("start_year_9999", "start", Raw("9999-12-31T23:59:59Z"), "start"),
    ("start_year_1_offset", "start", Raw("0001-01-01T00:00:00+14:00"), "start"),
    ("start_no_zone", "start", Raw("2026-01-01T00:00:00"), "start"),
    ("start_string", "start", "yesterday", "start"),
    ("run_past_year_9000", "start", Raw("9000-12-30T23:59:59Z"), "duration"),
    ("seed_over_int64", "seed", 2**63, "seed"),
    ("name_not_string", "name", 5, "name"),
    ("routes_not_list", "routes", 5, "routes"),
    ("clients_empty", "clients", [], "clients"),
    ("unknown_top_key", "nmae", "x", "nmae"),
    ("unknown_nested_key", "account.lamda_concurrency", 5, "account.lamda_concurrency"),
]:
    scenario_case(f"size:{name}", changed(dotted, value, changed("duration", "20000d")), key)
scenario_case("size:retry_storm_attempts", changed("clients.0.retry", {"mode": "fixed", "delay": "1ms", "on": [200],
              "max_attempts": 1000}, changed("clients.0.arrivals.rate", 1e6, changed("duration", "1h"))), "attempts")
scenario_case("size:unreserved_min_over_concurrency_message",
              changed("account.lambda_concurrency", 10, changed("account.unreserved_min", 20)),
              "account.unreserved_min: must not exceed lambda_concurrency (10), got 20")
scenario_case("size:value_5mb_echo_cut", changed("name", ["x" * (5 * 2**20)]), "characters)")

# 5. Structure: nesting, huge files, many problems, TOML the reader refuses.
for depth in (33, 100, 600, 5000):
    scenario_case(f"nest:array_{depth}", "a = " + "[" * depth + "]" * depth + "\n", "nest deeper")
    scenario_case(f"nest:inline_{depth}", "a = " + "{b = " * depth + "1" + "}" * depth + "\n", "nest deeper")
    scenario_case(f"nest:dotted_{depth}", "a" + ".a" * depth + " = 1\n", "nest deeper")
    scenario_case(f"nest:tables_{depth}", "[" + ".".join(["t"] * depth) + "]\n", "nest deeper")
    add(f"nest:set_{depth}", ["run", "{dir}/s.toml", "--set", "name=" + "[" * depth + "]" * depth],
        "--set name", files={"s.toml": toml(BASE)})
scenario_case("many:unknown_keys", toml(BASE) + "".join(f"unknown_{i} = {i}\n" for i in range(50_000)),
              "more problems", many_lines=True)
scenario_case("many:bad_clients", changed("clients", [{"name": i} for i in range(500)]), "more problems",
              many_lines=True)
scenario_case("toml:int_5000_digits", toml(BASE).replace("seed = 3", "seed = " + "9" * 5000), "line 3")
scenario_case("toml:int_40_digits", toml(BASE).replace("seed = 3", "seed = " + "9" * 40), "seed")
scenario_case("toml:duplicate_key", toml(BASE) + 'name = "again"\n', "invalid TOML")
scenario_case("toml:unclosed_string", 'name = "x\n', "invalid TOML")
scenario_case("toml:nul_byte", 'name = "a\x00b"\n', "invalid TOML")
scenario_case("toml:control_chars", "name = 1\n\x1b[2J\x07\n", "invalid TOML")
scenario_case("toml:only_comment", "# nothing\n", "holds no settings")

# 6. Each kind of file x each hostile file: scenario, samples, trace.
HOSTILE_FILES: dict[str, bytes] = {
    "non_utf8": b"\xff\xfe\xfa not text \x80\n",
    "latin1": "temps = 5 \xe9t\xe9\n".encode("latin-1"),
    "empty": b"",
    "binary": bytes(range(256)) * 64,
    "utf16": "1\n2\n".encode("utf-16"),
    "zeros": b"\x00" * 4096,
}
for label, content in HOSTILE_FILES.items():
    scenario_case(f"file:scenario_{label}", "", "s.toml", files={"s.toml": content})
    samples = changed("functions.0.duration", {"kind": "empirical", "file": "samples.txt"})
    scenario_case(f"file:samples_{label}", samples, "samples.txt", files={"samples.txt": content})
    trace = changed("clients.0.arrivals", {"process": "replay", "file": "trace.csv"})
    scenario_case(f"file:trace_{label}", trace, "trace.csv", files={"trace.csv": content})


def _make_dir(name: str) -> Callable[[Path], None]:
    return lambda d: (d / name).mkdir()


def _sparse(name: str, size: int) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        with open(d / name, "wb") as fh:
            fh.truncate(size)
    return make


add("file:scenario_missing", ["check", "{dir}/nope.toml"], "nope.toml")
add("file:scenario_directory", ["check", "{dir}/sub"], "sub", prepare=_make_dir("sub"))
add("file:scenario_9mib", ["check", "{dir}/big.toml"], "big.toml", prepare=_sparse("big.toml", 9 * 2**20))
add("file:scenario_dev_zero", ["check", "/dev/zero"], "/dev/zero")
add("file:run_dev_zero", ["run", "/dev/zero"], "/dev/zero")
for kind, key, spec in [("samples", "functions.0.duration", {"kind": "empirical", "file": "x"}),
                        ("trace", "clients.0.arrivals", {"process": "replay", "file": "x"})]:
    scenario_case(f"file:{kind}_missing", changed(key, {**spec, "file": "nope"}), "nope")
    scenario_case(f"file:{kind}_directory", changed(key, {**spec, "file": "sub"}), "sub", prepare=_make_dir("sub"))
    scenario_case(f"file:{kind}_dev_zero", changed(key, {**spec, "file": "/dev/zero"}), "/dev/zero",
                  patch={("simulator.scenario.distributions", "MAX_SAMPLES_BYTES"): 2**20,
                         ("simulator.scenario.traces", "MAX_TRACE_BYTES"): 2**20})
    scenario_case(f"file:{kind}_too_large", changed(key, {**spec, "file": "big"}), "larger than",
                  prepare=_sparse("big", 2**20 + 1),
                  patch={("simulator.scenario.distributions", "MAX_SAMPLES_BYTES"): 2**20,
                         ("simulator.scenario.traces", "MAX_TRACE_BYTES"): 2**20})

# 7. Samples files: values.
SAMPLES = changed("functions.0.duration", {"kind": "empirical", "file": "samples.txt"})
for label, text in {"nan": "1\nnan\n", "inf": "1\ninf\n", "-inf": "-inf\n", "1e308": "1e308\n",
                    "negative": "1\n-2\n", "word": "1\nfast\n", "long_word": "1\n" + "x" * 100_000 + "\n",
                    "only_spaces": "  \n \n", "huge_digits": "9" * 400 + "\n"}.items():
    scenario_case(f"samples:{label}", SAMPLES, "samples.txt", files={"samples.txt": text})

# 8. Replay traces.
TRACE = changed("clients.0.arrivals", {"process": "replay", "file": "trace.csv"})
for label, text in {
    "unclosed_quote": '0.1,GET /orders\n0.2,"GET /orders\n0.3,GET /orders\n',
    "field_200k": "0.1," + "x" * 200_000 + "\n",
    "field_2k": "0.1," + "x" * 2_000 + "\n",
    "nan_time": "0.1,GET /orders\nnan,GET /orders\n",
    "inf_time": "inf,GET /orders\n",
    "negative_time": "-1,GET /orders\n",
    "word_time": "time,route\n0.1,GET /orders\nsoon,GET /orders\n",
    "past_duration": "0.1,GET /orders\n5,GET /orders\n",
    "unknown_route": "0.1,GET /nope\n",
    "header_only": "time,route\n",
    "blank_lines_only": "\n\n\n",
    "huge_digits_time": "9" * 400 + ",GET /orders\n",
}.items():
    fragment = {"past_duration": "clients[0].arrivals.file", "unclosed_quote": "trace.csv: line 2: a quote opened",
                "field_200k": "trace.csv: line 1: a field is longer"}.get(label, "trace.csv")
    scenario_case(f"trace:{label}", TRACE, fragment, files={"trace.csv": text})

# 9. Command-line flags x bad values (each refused before any simulation or file).
OK = {"s.toml": toml(BASE)}
QUOTA = {"s.toml": toml(BASE)}
for value in ("-1", "nan", "x", "", "1e3", "9" * 5000, "8" * 40, str(2**63)):
    add(f"flag:run --seed {value[:12]}", ["run", "{dir}/s.toml", "--seed", value], "--seed", files=OK)
    add(f"flag:cost --seed {value[:12]}", ["cost", "{dir}/s.toml", "--seed", value], "--seed", files=OK)
LONG = {"s.toml": toml(changed("duration", "10h"))}
for value in ("0s", "-1s", "nans", "infs", "1us", "1ms", "x", "", "9" * 400 + "s", "73000d"):
    add(f"flag:run --interval {value[:12]}", ["run", "{dir}/s.toml", "--timeseries", "{dir}/t.csv",
                                              "--interval", value], "--interval", files=LONG)
for flag, value, fragment in [
    ("--records", "{dir}", "--records"), ("--records", "{dir}/no/such/dir/r.csv", "--records"),
    ("--records", "{dir}/r.txt", "--records"), ("--timeseries", "{dir}", "--timeseries"),
    ("--timeseries", "{dir}/t.parquet", "--timeseries"), ("--plots", "{dir}/s.toml", "--plots"),
    ("--plots", "{dir}/no/such/p", "--plots"), ("--set", "novalue", "--set novalue"),
    ("--set", "=5", "--set =5"), ("--set", "functions.nope.memory_mb=1", "functions.nope"),
    ("--set", "seed.x=1", "seed"), ("--set", "x" * 10_000 + "=1", "characters"),
    ("--engine", "warp", "--engine"),
    ("--records", "/proc/1/r.csv", "--records"), ("--timeseries", "/proc/1/t.csv", "--timeseries"),
    ("--plots", "/proc/1/plots", "--plots"),
]:
    add(f"flag:run {flag} {value[:20]}", ["run", "{dir}/s.toml", flag, value], fragment, files=OK)
for flag, values in {
    "--duration-ms": ("nan", "inf", "-inf", "-1", "x", "1e400"),
    "--memory-mb": ("-5", "0", "127", "99999", "nan", "1e3", "8" * 5000),
    "--monthly-requests": ("nan", "inf", "-1", "x", "9" * 400, "5Q", "9" * 300, "2000000G"),
    "--provisioned-concurrency": ("-1", "nan", "1e3", str(10**13)),
}.items():
    for value in values:
        argv = ["cost", "--api", "REST", "--monthly-requests", "50M", "--duration-ms", "100",
                "--memory-mb", "512", flag, value]
        add(f"flag:cost {flag} {value[:12]} ({len(value)} chars)", argv, flag)
for value in ("0", "-1", "nan", "x", "9" * 5000):
    add(f"flag:cost --replications {value[:12]}", ["cost", "{dir}/s.toml", "--replications", value],
        "--replications", files=OK)
for value in ("-1d", "0s", "nans", "infs", "9999999d", "36501d", "x", "", "9" * 400 + "d"):
    add(f"flag:quota --horizon {value[:12]}", ["quota", "{dir}/s.toml", "--horizon", value], "--horizon",
        files=QUOTA)
add("flag:quota --horizon 36500d (too many periods)", ["quota", "{dir}/s.toml", "--horizon", "36500d"],
    "horizon", files=QUOTA)
add("flag:quota horizon past 9000", ["quota", "{dir}/s.toml", "--horizon", "30d"], "horizon",
    files={"s.toml": toml(changed("start", Raw("9000-12-15T00:00:00Z")))})
for command in ("sweep", "plan"):
    extra = ["--slo", "p99<1s"] if command == "plan" else []
    for flag, value, fragment in [
        ("--vary", "functions.orders.memory_mb=nan", "memory_mb"),
        ("--vary", "functions.orders.memory_mb=inf,512", "memory_mb"),
        ("--vary", "functions.orders.memory_mb=1:1e300:1", "--vary"),
        ("--vary", "functions.orders.memory_mb=512:1024:0", "--vary"),
        ("--vary", "functions.orders.memory_mb=", "--vary"),
        ("--vary", "nokey", "--vary"),
        ("--replications", "0", "--replications"),
        ("--replications", "nan", "--replications"),
        ("--workers", "-1", "--workers"),
        ("--workers", "100000", "--workers"),
        ("--vary", "functions.orders.memory_mb=" + "9" * 5000, "memory_mb"),
        ("--seed", "nan", "--seed"),
        ("--out", "{dir}/o.txt", "--out"),
        ("--out", "{dir}/no/o.csv", "--out"),
    ]:
        argv = [command, "{dir}/s.toml", *extra, flag, value]
        if flag != "--vary":
            argv += ["--vary", "functions.orders.memory_mb=512,1024"]
        add(f"flag:{command} {flag} {value[:60]}", argv, fragment, files=OK)
    add(f"flag:{command} grid of 1e6 points", [command, "{dir}/s.toml", *extra,
        "--vary", "functions.orders.memory_mb=128:10000:10", "--vary", "functions.orders.timeout=1s:1000s:1s"],
        "--vary", files=OK)
for value in ("p99<nan", "p99<infms", "rate_5xx<inf", "rate_5xx<nan", "nope<1", "p99", "rate_5xx<-1"):
    add(f"flag:plan --slo {value}", ["plan", "{dir}/s.toml", "--vary", "functions.orders.memory_mb=512",
                                     "--slo", value], "--slo", files=OK)

#: Inputs that are accepted on purpose (documented in the README): each must give exit code 0.
ACCEPTED = {
    "scenario_bom": {"s.toml": "\ufeff" + toml(BASE)},
    "samples_bom": {"s.toml": toml(SAMPLES), "samples.txt": "\ufeff12\n30\n"},
    "trace_bom": {"s.toml": toml(TRACE), "trace.csv": "\ufeff0.1,GET /orders\n0.5,GET /orders\n"},
    "million_rps_for_an_hour": {"s.toml": toml(changed("clients.0.arrivals.rate", 1e6, changed("duration", "1h")))},
    "nesting_at_limit": {"s.toml": toml(BASE) + "[x]\n".replace("x", ".".join(["d"] * 2)) + "k = 1\n"},
}


# 10. The stack commands: import, calibrate, export (each refused before it writes anything).
REPORT_LINE = ("REPORT RequestId: r1 Duration: 12.3 ms Billed Duration: 13 ms Memory Size: 128 MB "
               "Max Memory Used: 50 MB\n")
STACK_FILES = {"s.toml": toml(BASE), "r.log": REPORT_LINE}
for name, argv, fragment, files in [
    ("import missing", ["import", "{dir}/none.yaml"], "none.yaml: no such file", {}),
    ("import empty", ["import", "{dir}/t.yaml"], "t.yaml", {"t.yaml": ""}),
    ("import binary", ["import", "{dir}/t.yaml"], "t.yaml:1: cannot read the template",
     {"t.yaml": b"\xff\xfe\x00\x01bad"}),
    ("import list", ["import", "{dir}/t.json"], "expected a mapping", {"t.json": "[1, 2]"}),
    ("import no resources", ["import", "{dir}/t.yaml"], "no Resources",
     {"t.yaml": 'AWSTemplateFormatVersion: "2010-09-09"\nResources: {}\n'}),
    ("import --param", ["import", "{dir}/t.yaml", "--param", "NOEQ"], "--param NOEQ", {"t.yaml": "a: 1\n"}),
    ("import into a directory", ["import", "{dir}/t.yaml", "-o", "{dir}"], "is a directory", {"t.yaml": "a: 1\n"}),
    ("import into a missing directory", ["import", "{dir}/t.yaml", "-o", "{dir}/no/s.toml"],
     "the directory does not exist", {"t.yaml": "a: 1\n"}),
    ("calibrate without logs", ["calibrate", "{dir}/s.toml", "-o", "{dir}/o.toml"], "--report-log", STACK_FILES),
    ("calibrate missing scenario", ["calibrate", "{dir}/none.toml", "-o", "{dir}/o.toml", "--report-log",
                                    "{dir}/r.log"], "none.toml", STACK_FILES),
    ("calibrate unknown function", ["calibrate", "{dir}/s.toml", "-o", "{dir}/o.toml", "--report-log",
                                    "nofn={dir}/r.log"], "no function 'nofn'", STACK_FILES),
    ("calibrate no REPORT lines", ["calibrate", "{dir}/s.toml", "-o", "{dir}/o.toml", "--report-log",
                                   "{dir}/s.toml"], "no Lambda REPORT lines", STACK_FILES),
    ("calibrate missing log", ["calibrate", "{dir}/s.toml", "-o", "{dir}/o.toml", "--report-log",
                               "{dir}/none.log"], "none.log", STACK_FILES),
    ("calibrate unreadable access log", ["calibrate", "{dir}/s.toml", "-o", "{dir}/o.toml", "--access-log",
                                         "{dir}/r.log"], "no readable access-log line", STACK_FILES),
    ("calibrate --key", ["calibrate", "{dir}/s.toml", "-o", "{dir}/o.toml", "--access-log", "{dir}/r.log",
                         "--key", "NOEQ"], "--key NOEQ", STACK_FILES),
    ("calibrate --metrics backwards", ["calibrate", "{dir}/s.toml", "-o", "{dir}/o.toml", "--metrics",
                                       "2026-03-02T10:00Z/2026-03-02T09:00Z"], "--metrics", STACK_FILES),
    ("calibrate onto its input", ["calibrate", "{dir}/s.toml", "-o", "{dir}/s.toml", "--report-log",
                                  "{dir}/r.log"], "that is the input scenario", STACK_FILES),
    ("calibrate into a missing directory", ["calibrate", "{dir}/s.toml", "-o", "{dir}/no/o.toml",
                                            "--report-log", "{dir}/r.log"], "the directory does not exist",
     STACK_FILES),
    ("calibrate into a directory", ["calibrate", "{dir}/s.toml", "-o", "{dir}", "--report-log", "{dir}/r.log"],
     "is a directory", STACK_FILES),
    ("calibrate --report into a missing directory", ["calibrate", "{dir}/s.toml", "-o", "{dir}/o.toml",
                                                     "--report", "{dir}/no/r.json", "--report-log", "{dir}/r.log"],
     "the directory does not exist", STACK_FILES),
    ("export missing", ["export", "{dir}/none.toml"], "none.toml: no such file", {}),
    ("export a directory", ["export", "{dir}"], "cannot read", {}),
    ("export --set nan", ["export", "{dir}/s.toml", "--set", "account.throttle.rate=nan"],
     "account.throttle.rate", STACK_FILES),
    ("export over a file", ["export", "{dir}/s.toml", "-o", "{dir}/s.toml"], "exists", STACK_FILES),
    ("export into a missing directory", ["export", "{dir}/s.toml", "-o", "{dir}/no/x.yaml"],
     "the directory does not exist", STACK_FILES),
    ("export --format", ["export", "{dir}/s.toml", "--format", "xml"], "--format", STACK_FILES),
]:
    add(f"stack:{name}", argv, fragment, files=files)


# --------------------------------------------------------------------------- running a case


def run_main(argv: list[str]) -> tuple[int, str, str]:
    """``throttlesim argv`` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse
            code = exc.code if isinstance(exc.code, int) else 2
    return code, out.getvalue(), err.getvalue()


def _files(d: Path) -> set[Path]:
    return {p for p in d.rglob("*")}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input_is_refused_in_one_line(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, content in case.files.items():
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    if case.prepare is not None:
        case.prepare(tmp_path)
    for (module, name), value in case.patch.items():
        monkeypatch.setattr(f"{module}.{name}", value)
    before = _files(tmp_path)
    argv = [a.replace("{dir}", str(tmp_path)) for a in case.argv]
    code, out, err = run_main(argv)  # an exception here is a traceback a user would see
    lines = err.splitlines()
    assert code == 2, (code, err[:500])
    assert "Traceback" not in err
    assert out == "", out[:300]
    if case.many_lines:
        assert len(lines) == limits.MAX_PRINTED_ERRORS + 1, len(lines)
        assert "more problems" in lines[-1]
    else:
        assert len(lines) == 1, err[:2000]
    assert all(len(line) < 1000 for line in lines), max(len(line) for line in lines)
    assert case.fragment.replace("{dir}", str(tmp_path)) in err, err[:500]
    assert _files(tmp_path) == before, "a refused command wrote a file"


@pytest.mark.parametrize("name", ACCEPTED)
def test_documented_acceptances(name: str, tmp_path: Path) -> None:
    for file, text in ACCEPTED[name].items():
        (tmp_path / file).write_text(text, encoding="utf-8")
    code, out, err = run_main(["check", str(tmp_path / "s.toml")])
    if name == "nesting_at_limit":  # an unknown key, but read without a nesting error
        assert code == 2 and "nest" not in err and len(err.splitlines()) == 1
        return
    assert (code, err) == (0, ""), err


def test_corpus_figure() -> None:
    """The README quotes this figure: keep it true when cases are added."""
    assert len(CASES) >= 250
    assert len({c.name for c in CASES}) == len(CASES), "case names must be unique"
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert f"{len(CASES)} cases tried" in readme
    assert f"{len(CASES)} generated cases" in readme and f"{len(ACCEPTED)} documented acceptances" in readme


def test_limits_are_documented_in_one_table() -> None:
    """Every limit in simulator/limits.py is in its docstring table, which says what it protects against."""
    doc = limits.__doc__ or ""
    names = [n for n in limits.__all__ if n.startswith(("MAX_", "DATE_"))]
    assert names
    for name in names:
        row = next((line for line in doc.splitlines() if line.startswith(f"``{name}``")), None)
        assert row is not None, name
        assert len(row.split()) >= 4, f"{name}: the row needs a value and what it protects against"


def test_a_failed_write_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk during --records: one line naming the file, and neither it nor a partial file is left."""
    import errno

    from simulator.results.records import Result

    def full_disk(self: Result, path: Path) -> None:
        Path(path).write_text("time_s,status\n0.1,2")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Result, "write_records", full_disk)
    (tmp_path / "s.toml").write_text(toml(BASE))
    out = tmp_path / "r.csv"
    code, stdout, err = run_main(["run", str(tmp_path / "s.toml"), "--engine", "simpy", "--records", str(out)])
    assert (code, stdout) == (2, "")
    assert err == f"cannot write {out}: No space left on device\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]


def test_outputs_appear_whole_under_their_names(tmp_path: Path) -> None:
    (tmp_path / "s.toml").write_text(toml(BASE))
    code, _, err = run_main(["run", str(tmp_path / "s.toml"), "--engine", "simpy", "--json",
                             "--records", str(tmp_path / "r.csv"), "--timeseries", str(tmp_path / "t.csv")])
    assert (code, err) == (0, "")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv", "s.toml", "t.csv"]
    assert (tmp_path / "r.csv").read_text().count("\n") > 1 and (tmp_path / "t.csv").read_text().count("\n") > 1


def test_a_key_in_two_plans_is_named_redacted(tmp_path: Path) -> None:
    from simulator.redact import redact_key

    data = changed("usage_plans", [*BASE["usage_plans"], {"name": "silver"}])
    data = changed("clients.1.api_key", "web-key-1", changed("clients.1.usage_plan", "silver", data))
    (tmp_path / "s.toml").write_text(toml(data))
    code, out, err = run_main(["check", str(tmp_path / "s.toml")])
    assert (code, out) == (2, "")
    assert f"clients[1].usage_plan: API key {redact_key('web-key-1')} is already in usage plan 'gold'" in err
    assert "web-key-1" not in err


@pytest.mark.parametrize("name", ["nest:array_600", "file:scenario_dev_zero", "file:clients.0.arrivals.rate=nan",
                                  "flag:quota --horizon -1d", "toml:int_5000_digits", "many:unknown_keys",
                                  "trace:unclosed_quote"])
def test_in_a_fresh_interpreter(name: str, tmp_path: Path) -> None:
    """A few cases through ``python -m simulator.cli``, as a user runs it: the same one line."""
    import subprocess
    import sys

    case = next(c for c in CASES if c.name == name)
    for file, content in case.files.items():
        (tmp_path / file).write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    argv = [a.replace("{dir}", str(tmp_path)) for a in case.argv]
    done = subprocess.run([sys.executable, "-m", "simulator.cli", *argv], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == "" and "Traceback" not in done.stderr
    assert len(done.stderr.splitlines()) == (limits.MAX_PRINTED_ERRORS + 1 if case.many_lines else 1)
    assert case.fragment in done.stderr

"""HTTP backends of finite capacity: exact timelines, the switches, billing, bad input,
and the queue against queueing theory (Erlang C for M/M/c, the blocking probability of
M/M/c/K), each within 4 batch-means standard errors."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np
import pytest

import simulator
from simulator import outcomes as oc
from simulator.engine import fast_engine_unavailable
from simulator.errors import ThrottlesimError
from tests.conftest import timeline


def backend_keys(workers: int = 2, service: Any = "1s", timeout: str = "29s", api: str = "REST",
                 **backend: Any) -> dict[str, Any]:
    return {
        "api": {"type": api, "integration_timeout": timeout},
        "routes": [{"name": "GET /x", "backend": "svc"}],
        "functions": [],
        "backends": [{"name": "svc", "workers": workers, "service_time": service, **backend}],
    }


def service_windows(r: simulator.Result) -> list[tuple[float, float, float, int]]:
    """(arrived, started, finished, state) of every request the backend accepted."""
    b = r.backend_requests
    return [(float(t), float(s), float(e), int(k)) for t, s, e, k in zip(b["t"], b["start"], b["end"], b["state"])]


# --------------------------------------------------------------------------- exact timelines


def test_third_request_waits_for_the_first_free_worker(build):
    r = simulator.simulate(build([0, 0, 0], **backend_keys()))
    assert timeline(r) == [(0.0, "ok", 1.0), (0.0, "ok", 1.0), (0.0, "ok", 2.0)]
    assert service_windows(r) == [(0.0, 0.0, 1.0, oc.ANSWERED), (0.0, 0.0, 1.0, oc.ANSWERED),
                                  (0.0, 1.0, 2.0, oc.ANSWERED)]
    b = r.summary()["backends"]["svc"]
    assert (b["requests"], b["waited"], b["queue_length_max"], b["peak_busy_workers"]) == (3, 1, 1, 2)
    assert b["utilization"] == pytest.approx(3.0 / (2 * 10.0))
    assert b["wait_ms"]["max"] == 1000.0
    ts = r.timeseries()
    assert ts["BackendUtilization[svc]"][:3].tolist() == [1.0, 0.5, 0.0]
    assert ts["BackendQueueLength[svc]"][:2].tolist() == [1, 0]
    assert ts["BackendWaits[svc]"][:2].tolist() == [1, 0]


def test_integration_timeout_is_a_504_while_the_worker_stays_busy(build):
    # One worker: the second request would finish at 2 s; the gateway answers 504 at 1.5 s.
    # The worker is busy until 2 s all the same, so a request sent at 1.9 s starts at 2 s.
    r = simulator.simulate(build([0, 0, 1.9], **backend_keys(workers=1, timeout="1.5s")))
    assert timeline(r) == [(0.0, "ok", 1.0), (0.0, "integration_timeout", 1.5), (1.9, "ok", 1.1)]
    assert [x.status for x in r.records()] == [200, 504, 200]
    assert service_windows(r)[1:] == [(0.0, 1.0, 2.0, oc.SERVED_AFTER_TIMEOUT), (1.9, 2.0, 3.0, oc.ANSWERED)]
    b = r.summary()["backends"]["svc"]
    assert (b["served_after_timeout"], b["work_after_timeout_s"]) == (1, 1.0)
    assert r.end_s == 10.0


def test_http_api_timeout_answers_with_its_own_status(build):
    r = simulator.simulate(build([0, 0, 0], **backend_keys(timeout="1.5s", api="HTTP")))
    assert [x.status for x in r.records()] == [200, 200, 503]


def test_a_full_queue_refuses_with_503_or_the_502_switch(build):
    keys = backend_keys(queue_limit=1)
    r = simulator.simulate(build([0, 0, 0, 0, 2.5], **keys))
    assert timeline(r) == [(0.0, "ok", 1.0), (0.0, "ok", 1.0), (0.0, "ok", 2.0),
                           (0.0, "backend_queue_full", 0.0), (2.5, "ok", 1.0)]
    assert [x.status for x in r.records()] == [200, 200, 200, 503, 200]
    assert r.summary()["backends"]["svc"]["refused"] == 1
    r502 = simulator.simulate(build([0, 0, 0, 0], behaviour={"backend_queue_full_status": 502}, **keys))
    assert [x.status for x in r502.records()] == [200, 200, 200, 502]


def test_queue_limit_zero_refuses_whenever_every_worker_is_busy(build):
    r = simulator.simulate(build([0, 0, 0, 1.0], **backend_keys(queue_limit=0)))
    assert [x.cause for x in r.records()] == ["ok", "ok", "backend_queue_full", "ok"]


def test_a_connection_limit_counts_requests_in_service_and_waiting(build):
    r = simulator.simulate(build([0, 0, 0, 0, 0.5, 1.0], **backend_keys(connection_limit=3)))
    assert [x.cause for x in r.records()] == ["ok", "ok", "ok", "backend_queue_full", "backend_queue_full", "ok"]


@pytest.mark.parametrize("mode, fourth", [("served", (0.8, 3.0, 4.0)), ("skipped", (0.8, 1.0, 2.0))])
def test_requests_abandoned_in_the_queue_are_served_or_skipped(build, mode, fourth):
    # One worker, 1 s each, the gateway waits 0.5 s. The requests sent at 0 s and 0.1 s
    # would start at 1 s and 2 s, after the gateway gave up on them.
    r = simulator.simulate(build([0, 0, 0.1, 0.8], **backend_keys(
        workers=1, timeout="500ms", abandoned_in_queue=mode)))
    assert [x.cause for x in r.records()] == ["integration_timeout"] * 4
    windows = service_windows(r)
    assert windows[3][:3] == fourth
    b = r.summary()["backends"]["svc"]
    if mode == "skipped":
        assert windows[1:3] == [(0.0, 0.5, 0.5, oc.SKIPPED), (0.1, 0.6, 0.6, oc.SKIPPED)]
        assert (b["skipped_in_queue"], b["served_after_timeout"]) == (2, 2)
    else:
        assert (b["skipped_in_queue"], b["served_after_timeout"]) == (0, 4)


def test_error_rate_gives_backend_errors(build):
    r = simulator.simulate(build([0, 0.5], **backend_keys(error_rate=1.0)))
    assert [(x.cause, x.status) for x in r.records()] == [("backend_error", 500)] * 2
    assert r.summary()["backends"]["svc"]["errors"] == 2


def test_a_scenario_can_mix_functions_and_backends(build):
    keys = backend_keys()
    keys["routes"].append({"name": "GET /f", "function": "f"})
    keys["functions"] = [{"name": "f", "duration": "100ms", "init": "0ms"}]
    s = build([0, 0.1], clients=[{"name": "c", "routes": {"GET /x": 1, "GET /f": 1},
                                  "arrivals": {"process": "uniform", "rate": 1}}], **keys)
    r = simulator.simulate(s)
    d = r.summary()
    assert d["lambda"]["f"]["invocations"] + d["backends"]["svc"]["requests"] == d["attempts"]["total"]


# --------------------------------------------------------------------------- engines, cost, input


def test_the_fast_engine_says_it_has_no_backends(build):
    s = build([0], **backend_keys())
    assert "HTTP backends" in str(fast_engine_unavailable(s))
    with pytest.raises(ThrottlesimError, match="HTTP backends"):
        simulator.simulate(s, engine="fast")


def test_same_seed_same_bytes(build):
    keys = backend_keys(workers=3, service={"kind": "exponential", "mean": "300ms"}, queue_limit=5,
                        error_rate=0.1)
    s = build(None, clients=[{"name": "c", "routes": {"GET /x": 1},
                              "arrivals": {"process": "poisson", "rate": 12}}], **keys)
    first = simulator.simulate(s, seed=5).to_json()
    assert first == simulator.simulate(s, seed=5).to_json()
    assert first != simulator.simulate(s, seed=6).to_json()


def test_backend_attempts_bill_api_calls_and_no_lambda(build):
    r = simulator.simulate(build([0, 0, 0, 0], **backend_keys(queue_limit=1, response_bytes=2048)))
    cost = r.summary()["cost_usd"]
    bill = simulator.run_cost(r)
    usage_lines = [line for line in bill.run.lines if line.service == "Lambda"]
    assert all(line.usd == 0 for line in usage_lines)
    gateway = [line for line in bill.run.lines if line.service == "API Gateway"]
    assert math.fsum(line.quantity for line in gateway) == 4  # the refused one reached the backend
    assert {line.function for line in gateway} == {"backend:svc"}
    assert cost["run_total"] > 0
    assert json.dumps(cost)  # JSON-ready


@pytest.mark.parametrize("route, message", [
    ({"name": "GET /x"}, "routes[0]: needs exactly one of function (Lambda) or backend (HTTP), got neither"),
    ({"name": "GET /x", "function": "f", "backend": "svc"}, "got both"),
    ({"name": "GET /x", "backend": "svx"}, "routes[0].backend: unknown backend 'svx' (did you mean 'svc'?)"),
    ({"name": "GET /x", "function": "f", "connection_type": "VPC_LINK"}, "applies to backend routes only"),
])
def test_a_route_names_exactly_one_known_target(build, route, message):
    keys = backend_keys()
    keys["routes"] = [route]
    keys["functions"] = [{"name": "f", "duration": "1ms"}]
    with pytest.raises(ThrottlesimError, match=re.escape(message)):
        build([0], **keys)


def test_http_apis_offer_http_proxy_only(build):
    keys = backend_keys(api="HTTP")
    keys["routes"][0]["integration_type"] = "HTTP"
    with pytest.raises(ThrottlesimError, match=r"routes\[0\].integration_type: HTTP APIs offer HTTP_PROXY only"):
        build([0], **keys)
    keys["api"]["type"] = "REST"
    keys["api"]["integration_timeout"] = "29s"
    keys["routes"][0]["connection_type"] = "VPC_LINK"
    assert build([0], **keys).routes[0].connection_type == "VPC_LINK"


def test_bad_backend_keys_are_one_line_errors(build):
    with pytest.raises(ThrottlesimError, match=r"backends\[0\]\.workers"):
        build([0], **backend_keys(workers=0))
    with pytest.raises(ThrottlesimError, match=r"backends\[0\]\.abandoned_in_queue"):
        build([0], **backend_keys(abandoned_in_queue="sometimes"))


# --------------------------------------------------------------------------- queueing theory


def erlang_b(c: int, a: float) -> float:
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(c: int, a: float) -> float:
    """The probability that an arrival waits in M/M/c (offered load *a* < *c*)."""
    b = erlang_b(c, a)
    rho = a / c
    return b / (1.0 - rho * (1.0 - b))


def mmck_blocking(c: int, k: int, a: float) -> float:
    """The probability that an arrival finds an M/M/c/K system full."""
    p = [a**n / math.factorial(n) if n <= c else a**c / math.factorial(c) * (a / c) ** (n - c)
         for n in range(k + 1)]
    return p[k] / sum(p)


def test_the_formulas_on_textbook_values():
    assert erlang_c(1, 0.5) == pytest.approx(0.5)  # M/M/1: P(wait) = rho
    assert erlang_c(2, 1.0) == pytest.approx(1.0 / 3.0)
    assert mmck_blocking(1, 1, 1.0) == pytest.approx(0.5)  # M/M/1/1 is Erlang B
    assert mmck_blocking(3, 3, 2.0) == pytest.approx(erlang_b(3, 2.0))


def poisson_run(build, rate: float, **backend: Any) -> simulator.Result:
    keys = backend_keys(service={"kind": "exponential", "mean": "100ms"}, **backend)
    s = build(None, duration="2500s", account={"throttle": {"rate": 100000, "burst": 100000}},
              clients=[{"name": "c", "routes": {"GET /x": 1}, "arrivals": {"process": "poisson", "rate": rate}}],
              **keys)
    return simulator.simulate(s, seed=7)


def within_batch_means(indicator: np.ndarray, expected: float) -> None:
    batches = np.array([b.mean() for b in np.array_split(indicator, 20)])
    se = batches.std(ddof=1) / math.sqrt(len(batches))
    assert abs(indicator.mean() - expected) < 4 * se, (indicator.mean(), expected, se)


@pytest.mark.parametrize("c, rate", [(3, 21.0), (1, 6.0)])
def test_waiting_probability_matches_erlang_c(build, c, rate):
    r = poisson_run(build, rate, workers=c)
    b = r.backend_requests
    within_batch_means((b["start"] > b["t"]).astype(float), erlang_c(c, rate * 0.1))


@pytest.mark.parametrize("c, queue, rate", [(3, 2, 30.0), (2, 4, 16.0)])
def test_blocking_probability_matches_mmck(build, c, queue, rate):
    r = poisson_run(build, rate, workers=c, queue_limit=queue)
    refused = (r.attempts["cause"] == oc.BACKEND_QUEUE_FULL).astype(float)
    within_batch_means(refused, mmck_blocking(c, c + queue, rate * 0.1))
    # The same system stated as a connection limit decides every attempt alike.
    same = poisson_run(build, rate, workers=c, connection_limit=c + queue)
    for column in ("time_s", "cause", "latency_s"):
        np.testing.assert_array_equal(same.attempts[column], r.attempts[column])


def test_the_run_table_shows_the_backends_and_no_empty_lambda_table(build):
    from rich.console import Console

    from simulator.cli.report import print_summary

    console = Console(width=110, record=True)
    print_summary(simulator.simulate(build([0, 0, 0, 0], **backend_keys(queue_limit=1))), console)
    text = console.export_text()
    assert "HTTP backends" in text and "Lambda" not in text
    row = next(line for line in text.splitlines() if line.startswith("│ svc"))
    # 3 accepted of 4, 3 worker-seconds of 2 x 10, one wait (p99 of 0, 0, 1 s: 980 ms), one refused.
    assert [cell.strip() for cell in row.split("│")[2:-1]] == ["2", "3", "15.0%", "0.1", "980.0", "1", "1", "0"]


def test_a_backend_that_accepted_nothing_reports_null_waits(build):
    r = simulator.simulate(build([0, 0], **backend_keys(workers=1, queue_limit=0, connection_limit=1)))
    b = r.summary()["backends"]["svc"]
    assert (b["requests"], b["refused"]) == (1, 1)
    keys = backend_keys()
    keys["routes"].append({"name": "GET /f", "function": "f"})
    keys["functions"] = [{"name": "f", "duration": "10ms", "init": "0ms"}]
    idle = simulator.simulate(build(None, clients=[{"name": "c", "routes": {"GET /f": 1},
                                                    "arrivals": {"process": "uniform", "rate": 1}}], **keys))
    assert idle.summary()["backends"]["svc"]["wait_ms"] == {"p50": None, "p99": None, "max": None, "mean": None}
    assert idle.summary()["backends"]["svc"]["utilization"] == 0.0


def test_answers_group_backend_causes_only_where_there_are_backends(build):
    lambda_only = build([0], api={"type": "HTTP"})
    assert not any("backend" in c for group in oc.answer_groups(lambda_only).values() for c in group)
    groups = oc.answer_groups(build([0], **backend_keys(api="HTTP", timeout="29s")))
    # On an HTTP API a full queue and a timeout both answer 503 Service Unavailable.
    assert groups[(503, "Service Unavailable")] == ("backend_queue_full", "integration_timeout")

"""Short validations against both local targets, end to end: Locust sends the traffic,
the target answers in real time, and the model must agree within the default tolerances.
Behind nginx the functions run on the independent Lambda runtime (worker processes).

These send real traffic to 127.0.0.1 only, for a bounded 12 s each. One of them runs with
a busy loop on every core beside it: the checks must hold on a loaded machine, with the
default tolerances (the 429 and 5XX fractions within 1 point against nginx, per-request
agreement at least 98%, p50 and p95 within 10%).
"""

from pathlib import Path

import pytest

from loadtests.busy import busy_cores
from loadtests.target.nginx import find_nginx
from loadtests.validation import run_validation

ROOT = Path(__file__).resolve().parents[1]
VALIDATION = ROOT / "scenarios" / "validation"


def _nginx() -> bool:
    try:
        return find_nginx() is not None
    except Exception:
        return False


@pytest.mark.realtime
@pytest.mark.parametrize("target, scenario", [
    ("emulated", "usage_plan_keys.toml"),
    ("emulated", "lambda_concurrency.toml"),
    ("emulated", "authorizer.toml"),
    *(pytest.param("nginx", name, marks=pytest.mark.skipif(
        not _nginx(), reason="Debian's nginx is not installed (.ci/run installs it)"))
      for name in ("route_account.toml", "lambda_concurrency.toml", "integration_timeout.toml", "authorizer.toml")),
])
def test_the_model_agrees_with_a_real_target(tmp_path, target, scenario):
    run = run_validation(VALIDATION / scenario, target=target, duration_s=12.0, out_dir=tmp_path, seeds=2)
    failed = [(c.name, c.predicted, c.observed) for c in run.report.checks if not c.ok]
    assert run.ok, failed
    assert run.report.n_observed > 150
    assert (tmp_path / "validation.json").exists() and (tmp_path / "plots" / "validation_series.png").exists()


@pytest.mark.realtime
def test_the_model_agrees_with_the_emulated_cache(tmp_path):
    # The overhead the model adds is measured on answers that invoked the function; a local
    # target answers a cache hit faster or slower than that by a few milliseconds (a bare
    # round trip, sensitive to the load on this machine), and hits are most answers here,
    # so the median latency is not compared; everything else is.
    run = run_validation(VALIDATION / "rest_cache.toml", target="emulated", duration_s=15.0, out_dir=tmp_path,
                         seeds=2, tolerances={"latency_p50": 10.0})
    failed = [(c.name, c.predicted, c.observed) for c in run.report.checks if not c.ok]
    assert run.ok, failed
    assert run.report.n_observed > 300


@pytest.mark.realtime
@pytest.mark.skipif(not _nginx(), reason="Debian's nginx is not installed (.ci/run installs it)")
def test_the_checks_hold_with_every_core_busy(tmp_path):
    """route_account against nginx, with a spinning process per core: two zones, one of
    them never drained, so a millisecond lost on nginx's clock shows as swapped answers."""
    with busy_cores():
        run = run_validation(VALIDATION / "route_account.toml", target="nginx", duration_s=12.0, out_dir=tmp_path,
                             seeds=2, plots=False)
    failed = [(c.name, c.predicted, c.observed) for c in run.report.checks if not c.ok]
    assert run.ok, failed
    assert run.report.agreement >= 0.98
    overhead = run.report.overhead
    assert overhead["used"] == "measured" and overhead["measured"]["n"] >= 20

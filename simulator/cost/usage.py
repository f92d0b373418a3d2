"""From a simulated run to billed usage, and what it costs.

:func:`run_cost` reads the attempt columns of a :class:`~simulator.results.Result`, derives
what AWS would bill for them, and prices it twice: the run on its own (as if it were the
first traffic of a billing month), and a month of the same traffic.

Billing rules applied to the attempts, with their sources:

* **API Gateway** bills the requests that reached the integration. Requests rejected by the
  gateway itself are free: "API Gateway-throttled requests are not charged", "Usage
  plan-throttled requests are not charged when rate limits or quota exceed the preconfigured
  limits", and methods requiring API keys "are not charged when API keys are missing or
  invalid" (archived ``api-gateway-pricing.md``; AWS staff on re:Post, "This is still the
  case", https://www.repost.aws/questions/QUY2x146iORPmsJHpff8u0eA). So an attempt is billed
  when its ``gateway_cause`` is not in :data:`~simulator.outcomes.GATEWAY_REJECTIONS`: ``ok``,
  ``lambda_throttled`` and ``lambda_rate_throttled`` ("API Gateway will bill the request if it
  ends up calling your backend integration and gets throttled", https://repost.aws/es/questions/QUm1jSF1ieSQ25Ol1RzFLysA),
  ``function_error``, ``function_timeout`` and ``integration_timeout`` are billed; 403 and
  every 429 are not. REST APIs bill per request; HTTP APIs are "metered in 512 KB
  increments", so each attempt counts ``ceil(request_bytes / 512 KB)`` (at least 1) of its
  route (https://aws.amazon.com/api-gateway/pricing/).
* **Lambda** bills the invocations it ran (not those of Lambda Web Functions, whose
  per-request, active-CPU and environment-memory rates are not in these tables: they are left
  out of the cost): an attempt whose ``function`` is set and whose
  ``gateway_cause`` is not in :data:`~simulator.outcomes.LAMBDA_REFUSALS` ("Lambda-throttled invokes are not billed":
  the ``Invocations`` metric "equals the number of requests billed" and excludes throttles,
  archived ``monitoring-metrics.md``). Each one is a request, and its duration is the
  handler's run (``run_s``, its full run even when the gateway stopped waiting, capped at the
  function's timeout) plus, for a cold start on an on-demand environment, the init duration:
  since 1 August 2025 the INIT phase is billed for every function configuration
  (https://aws.amazon.com/blogs/compute/aws-lambda-standardizes-billing-for-init-phase/);
  ``bill_init=False`` gives the earlier rule for ZIP functions on managed runtimes. A
  Lambda authorizer's invocation (the ``authorizer_*`` columns) is a second invocation of
  its own function, billed the same way, under the attempt's client and gateway cause. The
  duration is rounded up to 1 ms per invocation and billed in GB-seconds at the function's
  memory, at its architecture's rates (https://aws.amazon.com/lambda/pricing/).
  Invocations served by a provisioned environment are billed at the provisioned duration
  rate, the others (spillover included) at on-demand rates. Provisioned concurrency itself
  is billed for the configured environments x memory for as long as it is enabled, rounded
  up to five minutes: for the run, the scenario's duration; for the month, the whole month.
  The init of a provisioned environment happens ahead of traffic and is covered by that
  charge. Ephemeral storage above the included 512 MB is billed per GB-second of duration.
* **The REST cache** (``[stage.cache]``) is billed by the hour at its size's price for as long
  as it exists: the run's duration for the run, the whole month for the month (like
  provisioned concurrency); its line is shared among clients like the API calls. A request
  the cache answers is an API call (billed) but no Lambda invocation (its ``function`` is
  unset), and its response is data transfer out.
* **CloudWatch Logs** ingestion of API Gateway access logs: ``api.access_log_bytes`` per
  request the stage received (every attempt, throttled ones included), at the ingestion
  price per GB (unconfirmed from AWS; see ``throttlesim cost --explain``).
* **Data transfer out** to the internet: the function's ``response_bytes`` for every attempt
  whose ``gateway_cause`` is ``ok`` (a response was sent). Errors are not counted.
* **HTTP backends** (``[[backends]]``) cost API Gateway's requests and the transfer of their
  ``response_bytes``, billed as above, and nothing from Lambda: their attempts have no
  function. The backend's own compute (containers, a load balancer, a VPC link's NLB) is
  not priced. Their lines carry ``backend:NAME`` where a Lambda route's carry the function.

Aggregate quantities are priced by :mod:`simulator.cost.bill`, so volume tiers and free
allowances are applied exactly as there. Lines are then broken down: API Gateway and data
transfer by client and by the function behind the route, Lambda by function. A line's cost is
shared among the attempts that make up its quantity, in proportion to their part of it (every
unit of a line costs the line's average price); that gives the cost per client and the cost
of failed attempts by cause (``RunCost.failed``: "504s still cost $X"). The
provisioned-concurrency charge belongs to no attempt.

Usage::

    result = simulator.simulate(simulator.load_scenario("scenarios/flash_sale.toml"))
    cost = run_cost(result)
    cost.failed                  # {"integration_timeout": 0.0123, "throttled_stage": 0.0, ...}
    cost.to_dict()["monthly_total"]
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from simulator import outcomes as oc
from simulator.cost.bill import (
    CostBreakdown,
    CostLine,
    LambdaUsage,
    api_gateway_cost,
    data_transfer_cost,
    http_metered_requests,
    lambda_cost,
    logs_cost,
)
from simulator.cost.breakdown import items_by_service, rounded_usd
from simulator.cost.invocations import authorizer_cubes, invocation_weights
from simulator.cost.metering import provisioned_periods
from simulator.cost.pricing import PriceTable, load_prices
from simulator.outcomes import CAUSES, GATEWAY_REJECTIONS
from simulator.scenario.cache import cache_size_gb

if TYPE_CHECKING:
    from simulator.results.records import Result
    from simulator.scenario import Scenario

__all__ = ["UNATTRIBUTED", "RunCost", "Usage", "monthly_basis", "price_usage", "run_cost"]

#: Key of ``RunCost.by_client`` for the cost that belongs to no attempt (provisioned concurrency).
UNATTRIBUTED = "(provisioned concurrency)"


# Which per-attempt quantity a line's cost is shared by, from the line's price key.
_KIND_BY_KEY: tuple[tuple[str, str | None], ...] = (
    ("apigateway.", "gateway"),
    ("free_tier.apigateway.", "gateway"),
    ("lambda.requests", "requests"),
    ("free_tier.lambda.requests", "requests"),
    ("lambda.duration.", "on_demand_ms"),
    ("free_tier.lambda.duration", "on_demand_ms"),
    ("lambda.provisioned_duration.", "provisioned_ms"),
    ("lambda.provisioned_concurrency.", None),
    ("lambda.ephemeral_storage", "billed_ms"),
    ("data_transfer.", "transfer"),
    ("free_tier.data_transfer.", "transfer"),
    ("cloudwatch_logs.", "logs"),
)


@dataclass(frozen=True)
class RunCost:
    """What a simulated run costs, and what a month of the same traffic would cost.

    *run* prices the run's quantities as if they were the first of a billing month. *monthly*
    prices them scaled by *month_scale* (``month_hours x 3600 / scenario duration``) with the
    monthly tiers; *monthly_method* says so in a sentence. *failed* is the USD of the run
    spent on attempts whose gateway outcome is not ``ok``, by cause name (causes that occurred,
    in :data:`~simulator.outcomes.CAUSES` order, 0.0 when they cost nothing). *by_client* is
    the run's USD by client name, plus :data:`UNATTRIBUTED` for the provisioned-concurrency
    charge when there is one.
    """

    run: CostBreakdown
    monthly: CostBreakdown
    monthly_method: str
    failed: Mapping[str, float]
    by_client: Mapping[str, float]
    free_tier: bool
    bill_init: bool
    region: str
    month_scale: float

    @property
    def run_total(self) -> float:
        return self.run.total_usd

    @property
    def monthly_total(self) -> float:
        return self.monthly.total_usd

    def by_function(self) -> dict[str | None, float]:
        """The run's USD per function (``None`` for lines without one)."""
        return self.run.by_function()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form with a stable key order; amounts rounded to 1e-6."""
        return {
            "run_total": rounded_usd(self.run_total),
            "monthly_total": rounded_usd(self.monthly_total),
            "monthly_method": self.monthly_method,
            "run": items_by_service(self.run),
            "monthly": items_by_service(self.monthly),
            "failed_attempts": {k: rounded_usd(v) for k, v in self.failed.items()},
            "by_client_run": {k: rounded_usd(v) for k, v in self.by_client.items()},
            "free_tier": self.free_tier,
            "region": self.region,
        }


def run_cost(
    result: Result,
    *,
    free_tier: bool = False,
    bill_init: bool = True,
    month_hours: float = 730.0,
    prices: PriceTable | str | None = None,
) -> RunCost:
    """Billed usage of *result* and its cost, for the run and for a month of it.

    *free_tier* applies the monthly free allowances (off by default: a simulated workload
    usually shares its account). *bill_init* bills cold-start init durations (the rule since
    August 2025). *prices* is a :class:`PriceTable` or a Region name; by default the
    scenario's Region.
    """
    if not isinstance(free_tier, bool):
        raise TypeError(f"free_tier must be True or False, got {free_tier!r}")
    if not isinstance(bill_init, bool):
        raise TypeError(f"bill_init must be True or False, got {bill_init!r}")
    if (
        isinstance(month_hours, bool)
        or not isinstance(month_hours, (int, float))
        or not math.isfinite(month_hours)
        or month_hours <= 0
    ):
        raise ValueError(f"month_hours must be a finite number > 0, got {month_hours!r}")
    scenario = result.scenario
    if prices is None:
        table = load_prices(scenario.account.region)
    elif isinstance(prices, PriceTable):
        table = prices
    elif isinstance(prices, str):
        table = load_prices(prices)
    else:
        raise TypeError(f"prices must be a PriceTable, a Region name or None, got {prices!r}")

    return price_usage(Usage(result, bill_init, table), scenario, free_tier=free_tier, bill_init=bill_init,
                       month_hours=float(month_hours), table=table)


def monthly_basis(scenario: Scenario, month_hours: float = 730.0) -> str:
    """The basis of a monthly figure in a few words, for the table row that shows it:
    ``"x 730 h / 10m of this run"``, or ``"x 730 h / 1d: this typical day, 30.4 times"``
    when the scenario is a typical day or week (``[cost] month_from``)."""
    from simulator.units import format_duration

    d = float(scenario.duration)
    ratio = f"\u00d7 {month_hours:g} h / {format_duration(d)}"
    if scenario.cost.month_from == "run":
        return f"{ratio} of this run"
    return f"{ratio}: this typical {scenario.cost.month_from}, {month_hours * 3600.0 / d:.3g} times"


def price_usage(
    usage: Usage, scenario: Scenario, *, free_tier: bool, bill_init: bool, month_hours: float, table: PriceTable
) -> RunCost:
    """Price billed quantities (summed by function, client and gateway cause) for the run
    and for a month: the one pricing path for recorded and aggregate results."""
    scale = float(month_hours) * 3600.0 / float(scenario.duration)

    run = usage.price(1.0, float(scenario.duration), free_tier, table)
    monthly = usage.price(scale, float(month_hours) * 3600.0, free_tier, table)
    by_client, by_cause, unattributed = usage.attribute(run)

    failed = {
        CAUSES[k]: by_cause[k]
        for k in range(len(CAUSES))
        if k != oc.OK and usage.cause_counts[k] > 0
    }
    clients = {name: by_client[i] for i, name in enumerate(usage.client_names)}
    if unattributed > 0:
        clients[UNATTRIBUTED] = unattributed

    allowances = " and the monthly free tier" if free_tier else ""
    pattern = scenario.cost.month_from
    opening = (
        f"The run is a typical {pattern} of traffic, repeated to fill the month: "
        if pattern != "run"
        else f"The run's {scenario.duration:g} s of traffic is taken as representative of the month: "
    )
    method = (
        opening +
        f"every billed quantity is multiplied by {scale:.6g} ({month_hours:g} h x 3600 s / "
        f"{scenario.duration:g} s) to a {month_hours:g}-hour month and priced with the monthly "
        f"volume tiers{allowances}; provisioned concurrency is billed for the whole month "
        f"(when it changes during the run, its periods in the run, each rounded up to 5 minutes, "
        f"times {scale:.6g})."
    )
    return RunCost(
        run=run,
        monthly=monthly,
        monthly_method=method,
        failed=MappingProxyType(failed),
        by_client=MappingProxyType(clients),
        free_tier=free_tier,
        bill_init=bill_init,
        region=table.region,
        month_scale=scale,
    )


# --------------------------------------------------------------------------------------------
# Usage from the attempt columns
# --------------------------------------------------------------------------------------------


class Usage:
    """Per-attempt billed quantities, summed by (function, client, gateway cause)."""

    def __init__(self, result: Result, bill_init: bool, table: PriceTable) -> None:
        scenario = result.scenario
        a = result.attempts
        functions = scenario.functions
        self._describe(scenario)
        n_f, n_c, n_k = self.shape

        index = {f.name: i for i, f in enumerate(functions)}
        # A route to an HTTP backend has no function: its attempts sit in the backend's row,
        # after the functions' (named ``backend:NAME``), and bill API calls only.
        index.update({f"backend:{b.name}": len(functions) + i for i, b in enumerate(scenario.backends)})
        route_fn = np.array([index[r.function if r.function is not None else f"backend:{r.backend}"]
                             for r in scenario.routes], dtype=np.int64)
        route = np.asarray(a["route"], dtype=np.int64)
        client = np.asarray(a["client"], dtype=np.int64)
        cause = np.asarray(a["gateway_cause"], dtype=np.int64)
        # The function behind the attempt's route (the one it invoked, when it did).
        fidx = route_fn[route]

        billed_at_gateway = ~np.isin(cause, np.array(sorted(GATEWAY_REJECTIONS), dtype=np.int64))

        if self.api_type == "REST":
            per_route = np.ones(len(scenario.routes))
        else:
            per_route = np.array(
                [float(http_metered_requests(r.request_bytes, prices=table)) for r in scenario.routes]
            )
        gateway_units = np.where(billed_at_gateway, per_route[route], 0.0)

        response = np.array([float(f.response_bytes) for f in functions]
                            + [float(b.response_bytes) for b in scenario.backends])
        transfer = np.where(cause == oc.OK, response[fidx], 0.0)

        weights = {
            "gateway": gateway_units,
            **invocation_weights(np.asarray(a["function"], dtype=np.int64), cause,
                                 np.asarray(a["flags"], dtype=np.int64), np.asarray(a["init_s"], dtype=np.float64),
                                 np.asarray(a["run_s"], dtype=np.float64), bill_init, self.priced),
            "transfer": transfer,
            # Access logging writes one log event per request the stage received, 429s included.
            "logs": np.full(len(cause), float(scenario.api.access_log_bytes)),
        }
        cell = (fidx * n_c + client) * n_k + cause
        size = n_f * n_c * n_k
        #: Each quantity summed per (function, client, gateway cause).
        self.cube: dict[str, npt.NDArray[np.float64]] = {
            kind: np.asarray(np.bincount(cell, weights=w, minlength=size), dtype=np.float64).reshape(self.shape)
            for kind, w in weights.items()
        }
        for kind, cube in authorizer_cubes(a, client, cause, bill_init, self.shape, self.priced).items():
            self.cube[kind] += cube
        self.cause_counts = np.bincount(cause, minlength=n_k)
        for i, f in enumerate(functions):
            if f.changes_concurrency:
                changes = [(float(t), int(n)) for t, k, n in result.provisioned_changes if k == i]
                self.provisioned_steps[i] = [(0.0, f.provisioned_schedule[0][1]), *changes]

    def _describe(self, scenario: Scenario) -> None:
        self.functions = scenario.functions
        # Web functions' invocations are not priced here (their rates are not in the tables).
        self.priced = np.array([f.web is None for f in scenario.functions], dtype=bool)
        self.duration_s = float(scenario.duration)
        #: Per function whose provisioned concurrency changed during the run, its (time, count) steps.
        self.provisioned_steps: dict[int, list[tuple[float, int]]] = {}
        self.client_names = tuple(c.name for c in scenario.clients)
        self.function_names = tuple(f.name for f in scenario.functions)
        self.function_names += tuple(f"backend:{b.name}" for b in scenario.backends)
        self.api_type = scenario.api.type
        self.cache_size_gb = cache_size_gb(scenario)
        self.shape = (len(self.function_names), len(self.client_names), len(CAUSES))

    @classmethod
    def from_sums(
        cls, scenario: Scenario, cube: dict[str, npt.NDArray[np.float64]], cause_counts: npt.NDArray[np.int64]
    ) -> Usage:
        """Quantities already summed by (function, client, gateway cause) during a run."""
        usage = cls.__new__(cls)
        usage._describe(scenario)
        usage.cube = cube
        usage.cause_counts = cause_counts
        return usage

    # ------------------------------------------------------------------ pricing

    def price(self, scale: float, provisioned_seconds: float, free_tier: bool, table: PriceTable) -> CostBreakdown:
        """The bill of the quantities times *scale*, with provisioned concurrency enabled
        for *provisioned_seconds*; API Gateway and data transfer lines split by client and
        function."""
        per_function = {kind: cube.sum(axis=(1, 2)) for kind, cube in self.cube.items()}
        usages = []
        for i, f in enumerate(self.functions):
            steps = self.provisioned_steps.get(i)
            periods = provisioned_periods(steps, self.duration_s) if steps is not None else ()
            pc = max((n for n, _ in periods), default=0) if steps is not None else f.provisioned_peak
            usages.append(LambdaUsage(
                requests=float(per_function["requests"][i]) * scale,
                billed_ms=float(per_function["on_demand_ms"][i]) * scale,
                memory_mb=f.memory_mb,
                architecture=f.architecture,
                provisioned_concurrency=pc,
                provisioned_seconds=provisioned_seconds if pc > 0 and not periods else 0.0,
                provisioned_billed_ms=float(per_function["provisioned_ms"][i]) * scale,
                ephemeral_storage_mb=f.ephemeral_storage_mb,
                function=f.name,
                provisioned_periods=periods,
                provisioned_repeat=scale,
            ))
        units = float(self.cube["gateway"].sum()) * scale
        if self.api_type == "REST":
            # The stage's cache cluster is billed for every hour it exists: the run's
            # seconds, or the month's (the same span as provisioned concurrency).
            hours = provisioned_seconds / 3600.0 if self.cache_size_gb is not None else 0.0
            gateway = api_gateway_cost(rest_requests=units, cache_size_gb=self.cache_size_gb, cache_hours=hours,
                                       free_tier=free_tier, prices=table)
        else:
            gateway = api_gateway_cost(http_requests=units, free_tier=free_tier, prices=table)
        transfer = data_transfer_cost(float(self.cube["transfer"].sum()) * scale, free_tier=free_tier, prices=table)
        lambda_bill = lambda_cost(usages, free_tier=free_tier, prices=table)
        logs = logs_cost(float(self.cube["logs"].sum()) * scale, prices=table)
        return CostBreakdown(self._split(gateway) + lambda_bill.lines + self._split(transfer) + self._split(logs))

    def _split(self, bill: CostBreakdown) -> tuple[CostLine, ...]:
        """Each line of an account-wide bill as one line per (client, function), in proportion."""
        out: list[CostLine] = []
        for line in bill.lines:
            kind = _kind(line)
            assert kind is not None
            share = self.cube[kind].sum(axis=2)  # (function, client)
            whole = float(share.sum())
            for c, client in enumerate(self.client_names):
                for f, function in enumerate(self.function_names):
                    part = float(share[f, c])
                    if part <= 0:
                        continue
                    out.append(
                        CostLine(
                            line.service,
                            line.item,
                            line.quantity * part / whole,
                            line.unit,
                            line.usd * part / whole,
                            function,
                            client,
                            line.price_key,
                        )
                    )
        return tuple(out)

    # ------------------------------------------------------------------ attribution

    def attribute(self, bill: CostBreakdown) -> tuple[list[float], list[float], float]:
        """USD of *bill* by client index, by gateway cause, and the part no attempt owns."""
        n_f, n_c, n_k = self.shape
        function_index = {name: i for i, name in enumerate(self.function_names)}
        client_index = {name: i for i, name in enumerate(self.client_names)}
        by_client: list[list[float]] = [[] for _ in range(n_c)]
        by_cause: list[list[float]] = [[] for _ in range(n_k)]
        unattributed: list[float] = []
        for line in bill.lines:
            kind = _kind(line)
            if kind is None or line.usd == 0:
                if kind is None:
                    unattributed.append(line.usd)
                continue
            cube = self.cube[kind]
            if line.function is not None:
                cube = cube[function_index[line.function] : function_index[line.function] + 1]
            if line.client is not None:
                cube = cube[:, client_index[line.client] : client_index[line.client] + 1]
            whole = float(cube.sum())
            if whole <= 0:
                unattributed.append(line.usd)
                continue
            clients = cube.sum(axis=(0, 2))
            causes = cube.sum(axis=(0, 1))
            offset = client_index[line.client] if line.client is not None else 0
            for c in np.flatnonzero(clients):
                by_client[offset + int(c)].append(line.usd * float(clients[c]) / whole)
            for k in np.flatnonzero(causes):
                by_cause[int(k)].append(line.usd * float(causes[k]) / whole)
        return (
            [math.fsum(parts) for parts in by_client],
            [math.fsum(parts) for parts in by_cause],
            math.fsum(unattributed),
        )


def _kind(line: CostLine) -> str | None:
    key = line.price_key or ""
    for prefix, kind in _KIND_BY_KEY:
        if key.startswith(prefix):
            return kind
    raise ValueError(f"no attribution rule for price item {key!r}")

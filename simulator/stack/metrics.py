"""CloudWatch metrics of an API and its functions: arrival-rate profiles and observed series.

``get_metric_data`` gives, per period (a minute here), what API Gateway and Lambda counted:

* API Gateway (namespace ``AWS/ApiGateway``; REST APIs by ``ApiName`` and ``Stage``, HTTP APIs by
  ``ApiId`` and ``Stage``): ``Count``, ``4XXError``/``5XXError`` (HTTP APIs: ``4xx``/``5xx``,
  renamed here to the REST names), ``Latency`` and ``IntegrationLatency`` (averages, ms);
* Lambda (``AWS/Lambda`` by ``FunctionName``): ``Invocations``, ``Errors``, ``Throttles``,
  ``Duration`` (average), ``ConcurrentExecutions`` (maximum) and
  ``ProvisionedConcurrencySpilloverInvocations``, as ``Metric[function]``.

The columns carry the names of ``Result.timeseries_dataframe``, so a run of the calibrated
scenario compares with them column by column. ``Count`` per minute becomes the arrival-rate
profile of the scenario's open clients (:func:`apply_rate_profile`), each keeping its share.

https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-metrics-and-dimensions.html
https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from simulator.stack.errors import StackError

if TYPE_CHECKING:
    import pandas as pd

    from simulator.stack.calibrate import Calibration

__all__ = ["apply_rate_profile", "read_metrics"]

_API = {"REST": [("Count", "Count", "Sum"), ("4XXError", "4XXError", "Sum"), ("5XXError", "5XXError", "Sum"),
                 ("Latency", "Latency", "Average"), ("IntegrationLatency", "IntegrationLatency", "Average")],
        "HTTP": [("Count", "Count", "Sum"), ("4xx", "4XXError", "Sum"), ("5xx", "5XXError", "Sum"),
                 ("Latency", "Latency", "Average"), ("IntegrationLatency", "IntegrationLatency", "Average")]}
_LAMBDA = [("Invocations", "Sum"), ("Errors", "Sum"), ("Throttles", "Sum"), ("Duration", "Average"),
           ("ConcurrentExecutions", "Maximum"), ("ProvisionedConcurrencySpilloverInvocations", "Sum")]


def _queries(api_type: str, api: str, stage: str, functions: Sequence[str], period_s: int) -> list[tuple[str, dict]]:
    by = [{"Name": "ApiName" if api_type == "REST" else "ApiId", "Value": api}, {"Name": "Stage", "Value": stage}]
    out = [(column, {"Namespace": "AWS/ApiGateway", "MetricName": metric, "Dimensions": by, "stat": stat})
           for metric, column, stat in _API[api_type]]
    for fn in functions:
        by_function = [{"Name": "FunctionName", "Value": fn}]
        out += [(f"{metric}[{fn}]", {"Namespace": "AWS/Lambda", "MetricName": metric, "stat": stat,
                                     "Dimensions": by_function}) for metric, stat in _LAMBDA]
    return [(column, {"Id": f"m{i}", "MetricStat": {
        "Metric": {k: v for k, v in q.items() if k != "stat"}, "Period": period_s, "Stat": q["stat"]}})
        for i, (column, q) in enumerate(out)]


def read_metrics(cloudwatch: Any, *, api_type: str, api: str, stage: str, functions: Sequence[str],
                 start: datetime, end: datetime, period_s: int = 60) -> pd.DataFrame:
    """One row per period from *start* (``time_s`` from 0), one column per metric; missing data is 0."""
    import pandas as pd

    queries = _queries(api_type, api, stage, functions, period_s)
    columns = {q["Id"]: column for column, q in queries}
    series: dict[str, dict[float, float]] = {}
    for i in range(0, len(queries), 500):
        kwargs: dict[str, Any] = {"MetricDataQueries": [q for _, q in queries[i:i + 500]], "StartTime": start,
                                  "EndTime": end, "ScanBy": "TimestampAscending"}
        while True:
            page = cloudwatch.get_metric_data(**kwargs)
            for result in page["MetricDataResults"]:
                points = series.setdefault(columns[result["Id"]], {})
                for t, v in zip(result["Timestamps"], result["Values"]):
                    points[(t - start).total_seconds()] = float(v)
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
    if not series.get("Count"):
        raise StackError(f"cloudwatch {api} {stage}", f"no Count datapoints between {start:%Y-%m-%dT%H:%M}Z and "
                                                     f"{end:%Y-%m-%dT%H:%M}Z: is the API name/id and stage right?")
    times = [t * period_s for t in range(int((end - start).total_seconds() // period_s))]
    frame = pd.DataFrame({"time_s": times})
    for _, column in sorted(columns.items(), key=lambda kv: int(kv[0][1:])):
        points = series.get(column, {})
        frame[column] = [points.get(float(t), 0.0) for t in times]
    return frame


def apply_rate_profile(cal: Calibration, observed: pd.DataFrame, period_s: int = 60) -> None:
    """Give the scenario's open clients the observed arrival rate, each keeping its share of the traffic."""
    open_clients = [c for c in cal.data.get("clients", [])
                    if (c.get("arrivals") or {}).get("process") in ("poisson", "uniform")]
    if not open_clients:
        cal.warnings.append("no client with open (poisson or uniform) arrivals: the rate profile was not applied")
        return
    weights = [_mean_rate(c["arrivals"]["rate"]) for c in open_clients]
    total = sum(weights) or 1.0
    for client, weight in zip(open_clients, weights):
        share = weight / total
        client["arrivals"]["rate"] = [[f"{int(t)}s", round(count / period_s * share, 6)]
                                      for t, count in zip(observed["time_s"], observed["Count"])]
    cal.data["duration"] = f"{int(observed['time_s'].iloc[-1]) + period_s}s"
    cal.figures["metrics"] = {"periods": len(observed), "requests": float(observed["Count"].sum())}


def _mean_rate(rate: Any) -> float:
    if isinstance(rate, (int, float)):
        return float(rate)
    values = [float(point[1]) for point in rate]
    return sum(values) / len(values) if values else 0.0

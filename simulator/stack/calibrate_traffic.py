"""Traffic and gateway overhead from API Gateway access logs.

Every request in the logs becomes a row of a replay trace (``time offset in seconds, route``),
one trace per API key, all offsets from the first request of all logs. A key the scenario's
clients already use (``api_key``, or mapped with ``--key KEY_ID=CLIENT``) replays into that
client, which keeps its usage plan; requests without a key go to the scenario's first client
without one (or a new ``no-key`` client); other keys become new clients without a plan. The
logs hold retries as requests of their own, so replayed clients do not retry again. Clients
the logs never mention are dropped: the logs are the traffic now.

The gateway's own time is the response latency minus the integration latency of requests that
reached the integration; it becomes ``behaviour.gateway_overhead``. The status and
``error.responseType`` counts are reported, to compare with a run of the calibrated scenario.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from simulator.errors import ThrottlesimError
from simulator.stack.access_logs import Request, read_access_log
from simulator.stack.fitting import FitKind, dist_spec, fit_lognormal

if TYPE_CHECKING:
    from simulator.stack.calibrate import Calibration

__all__ = ["apply_access_logs"]


def _client_for(data: dict[str, Any], key: str | None, keys: Mapping[str, str], new: dict[str, dict[str, Any]]
                ) -> dict[str, Any]:
    clients = data.get("clients", [])
    if key is not None and key in keys:
        found = [c for c in clients if c.get("name") == keys[key]]
        if not found:
            raise ThrottlesimError(f"--key {key}={keys[key]}: the scenario has no client {keys[key]!r}")
        return found[0]
    match = [c for c in clients if c.get("api_key") == key] if key is not None else [
        c for c in clients if c.get("api_key") is None]
    if match:
        return match[0]
    name = f"key-{key}" if key is not None else "no-key"
    if name not in new:
        new[name] = {"name": name, **({"api_key": key} if key is not None else {})}
    return new[name]


def _traces(cal: Calibration, requests: Sequence[Request], keys: Mapping[str, str], stem: str) -> None:
    data = cal.data
    routes = {str(r["name"]) for r in data.get("routes", [])}
    t0 = requests[0].time_s
    new: dict[str, dict[str, Any]] = {}
    rows: dict[str, list[str]] = {}
    weights: dict[str, Counter[str]] = {}
    clients: dict[str, dict[str, Any]] = {}
    unknown: Counter[str | None] = Counter()
    for req in requests:
        if req.route not in routes:
            unknown[req.route] += 1
            continue
        client = _client_for(data, req.api_key, keys, new)
        name = str(client["name"])
        clients[name] = client
        rows.setdefault(name, []).append(f"{req.time_s - t0:.6f},{req.route}")
        cal.traces.setdefault(name, []).append(req.time_s - t0)
        weights.setdefault(name, Counter())[req.route] += 1
    for route, count in unknown.most_common():
        cal.warnings.append(f"{count} requests to {route}, which the scenario has no route for, were left out")
    for name in new:
        if name in clients and "api_key" in new[name]:
            cal.warnings.append(f"API key {new[name]['api_key']} is in no client of the scenario: client {name} has no "
                                "usage plan (map the key with --key KEY_ID=CLIENT)")
    kept = [c for c in data.get("clients", []) if c["name"] in clients] + [c for n, c in new.items() if n in clients]
    dropped = [c["name"] for c in data.get("clients", []) if c["name"] not in clients]
    if dropped:
        cal.warnings.append(f"clients {', '.join(dropped)} send nothing in the logs and were dropped")
    for client in kept:
        name = str(client["name"])
        file = f"{stem}_traces/{name}.csv"
        cal.files[file] = "\n".join(rows[name]) + "\n"
        client.update({"routes": dict(weights[name]), "arrivals": {"process": "replay", "file": file},
                       "retry": {"mode": "none"}})
    data["clients"] = kept
    last = max(req.time_s for req in requests if req.route in routes) - t0
    data["duration"] = f"{int(last) + 1}s"


def apply_access_logs(cal: Calibration, paths: Sequence[str], keys: Mapping[str, str], kind: FitKind,
                      stem: str) -> None:
    requests: list[Request] = []
    for path in paths:
        log = read_access_log(path)
        requests += log.requests
        cal.warnings += [w for w in [log.warning()] if w]
    requests.sort(key=lambda r: r.time_s)
    _traces(cal, requests, keys, stem)
    overhead = np.array([(r.response_ms - r.integration_ms) / 1000 for r in requests
                         if r.integration_ms and r.response_ms is not None and r.response_ms >= r.integration_ms])
    if len(overhead):
        fit = cal.fits["gateway_overhead"] = fit_lognormal(overhead)
        cal.samples["gateway_overhead"] = overhead
        spec, samples = dist_spec(fit, overhead, kind, f"{stem}_data/gateway_overhead_ms.txt")
        cal.data.setdefault("behaviour", {})["gateway_overhead"] = spec
        if samples:
            cal.files[f"{stem}_data/gateway_overhead_ms.txt"] = samples
    else:
        cal.warnings.append("no request with both integration and response latency: gateway overhead stays as it was")
    cal.figures["requests"] = len(requests)
    cal.figures["status"] = {str(k): v for k, v in sorted(Counter(r.status for r in requests).items())}
    cal.figures["response_types"] = dict(sorted(Counter(r.response_type or "-" for r in requests).items()))

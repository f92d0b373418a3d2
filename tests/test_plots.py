"""Figures of runs, validations and sweeps: what each one draws, read back from its artists."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle, StepPatch

import simulator
from simulator import plots
from simulator.cost import run_cost
from simulator.outcomes import CAUSES
from simulator.plots.style import format_value

# Route /a: 12 rps (plus retries) against an 8 rps stage throttle and a function capped at 3
# by reserved concurrency (429s and Lambda throttles); route /b: 3 rps on a function with one
# provisioned environment, in the unreserved pool.
TWO_FUNCTIONS = {
    "duration": "6s",
    "account": {"lambda_concurrency": 50, "unreserved_min": 10},
    "stage": {"throttle": {"rate": 8, "burst": 8}},
    "routes": [{"name": "GET /a", "function": "a"}, {"name": "GET /b", "function": "b"}],
    "functions": [
        {"name": "a", "duration": "700ms", "init": "300ms", "timeout": "10s", "reserved_concurrency": 3},
        {"name": "b", "duration": "200ms", "init": "300ms", "timeout": "10s", "provisioned_concurrency": 1},
    ],
    "clients": [
        {"name": "shop", "routes": {"GET /a": 1}, "arrivals": {"process": "uniform", "rate": 12},
         "retry": {"mode": "fixed", "delay": "300ms", "max_attempts": 2}},
        {"name": "feed", "routes": {"GET /b": 1}, "arrivals": {"process": "uniform", "rate": 3}},
    ],
}


@pytest.fixture
def result(build) -> simulator.Result:
    return simulator.simulate(build(None, **TWO_FUNCTIONS), seed=3)


def steps(fig: Figure) -> dict[str, StepPatch]:
    return {p.get_label(): p for ax in fig.axes for p in ax.patches if isinstance(p, StepPatch)}


def lines(ax) -> dict[str, Line2D]:
    return {line.get_label(): line for line in ax.get_lines()}


def legend_texts(fig: Figure) -> list[str]:
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    return [t.get_text() for legend in legends for t in legend.get_texts()]


def counts_by_cause(result: simulator.Result, interval_s: float) -> dict[str, list[int]]:
    df = result.to_dataframe()
    n = len(result.timeseries(interval_s)["time_s"])
    idx = np.minimum((df["time_s"] // interval_s).astype(int), n - 1)
    table = pd.crosstab(idx, df["cause"]).reindex(range(n), fill_value=0)
    return {cause: table[cause].tolist() for cause in table.columns}


# --------------------------------------------------------------------------- outcomes


def test_outcome_stack_of_a_known_timeline(build):
    # Reserved 1: at t=0.0 a cold start (0.6 s), 0.1 throttled, 1.0 warm, 1.05 throttled, 2.5 warm.
    s = build([0.0, 0.1, 1.0, 1.05, 2.5], duration="3s",
              functions=[{"name": "f", "duration": "100ms", "init": "500ms", "reserved_concurrency": 1}])
    fig = plots.outcomes_over_time(simulator.simulate(s), interval_s=1.0)
    layers = steps(fig)
    ok, throttled = layers["ok (200)"].get_data(), layers["lambda_throttled (500)"].get_data()
    assert list(ok.values - ok.baseline) == [1, 1, 1]
    assert list(throttled.values - throttled.baseline) == [1, 1, 0]
    assert list(throttled.baseline) == list(ok.values)  # stacked on top of ok
    assert list(ok.edges) == [0.0, 1.0, 2.0, 3.0]
    assert list(layers["offered (requests started)"].get_data().values) == [2, 2, 1]


@pytest.mark.parametrize("interval_s", [1.0, 2.5])
def test_outcome_stack_heights_are_the_counts_by_cause(result, interval_s):
    fig = plots.outcomes_over_time(result, interval_s=interval_s)
    expected = counts_by_cause(result, interval_s)
    assert {"ok", "throttled_stage", "lambda_throttled"} <= set(expected)
    layers = steps(fig)
    top = np.zeros(len(next(iter(expected.values()))))
    for cause, counts in expected.items():
        (label,) = [k for k in layers if k.startswith(cause + " (")]
        data = layers[label].get_data()
        assert (data.values - data.baseline).tolist() == counts
        top = np.maximum(top, data.values)
    assert top.tolist() == result.timeseries(interval_s)["Count"].tolist()
    offered = layers["offered (requests started)"].get_data().values
    req = result.requests_dataframe()
    assert offered.sum() == len(req) < result.n_attempts  # retries make the stack taller
    texts = legend_texts(fig)
    assert sorted(t.split(" (")[0] for t in texts if not t.startswith("offered")) == sorted(expected)
    assert fig.axes[0].get_title() and "(s)" in fig.axes[0].get_xlabel() and fig.axes[0].get_ylabel()


def test_causes_keep_their_colours(result):
    layers = steps(plots.outcomes_over_time(result))
    for label, patch in layers.items():
        cause = label.split(" (")[0]
        if cause in plots.CAUSE_COLOURS:
            assert patch.get_facecolor() == pytest.approx(_rgba(plots.CAUSE_COLOURS[cause]))
    assert set(plots.CAUSE_COLOURS) == set(CAUSES)
    assert len(set(plots.CAUSE_COLOURS.values())) == len(CAUSES)
    assert plots.outcome_colour("5XX") == plots.outcome_colour("504") == plots.CAUSE_COLOURS["function_error"]
    assert plots.outcome_colour("429") != plots.outcome_colour("quota_exceeded")
    assert plots.outcome_colour("0") == plots.CAUSE_COLOURS["client_timeout"]


def _rgba(colour: str) -> tuple[float, ...]:
    from matplotlib.colors import to_rgba

    return to_rgba(colour)


# --------------------------------------------------------------------------- Lambda


def test_concurrency_against_limits_with_cold_starts(result):
    fig = plots.lambda_concurrency(result, interval_s=1.0)
    summary = result.summary(cost=False)["lambda"]
    panels = {ax.get_title().split(":")[0]: ax for ax in fig.axes if ax.get_ylabel() == "concurrent executions"}
    assert set(panels) == {"a", "b"}
    twins = {ax: next(t for t in fig.axes if t is not ax and t.bbox.bounds == ax.bbox.bounds) for ax in panels.values()}
    for name, ax in panels.items():
        drawn = lines(ax)
        conc = drawn["ConcurrentExecutions (max per interval)"].get_ydata()
        assert max(conc) == summary[name]["peak_concurrency"] > 0
        markers = lines(twins[ax])
        assert sum(markers["cold starts per interval"].get_ydata()) == summary[name]["cold_starts"]
        assert sum(markers["Lambda throttles per interval"].get_ydata()) == summary[name]["throttles"]
    a, b = lines(panels["a"]), lines(panels["b"])
    assert list(a["reserved concurrency"].get_ydata()) == [3, 3]
    assert "unreserved pool (shared)" not in a
    assert summary["a"]["throttles"] > 0
    assert list(b["unreserved pool (shared)"].get_ydata()) == [47, 47]  # 50 minus a's 3
    assert list(b["provisioned concurrency"].get_ydata()) == [1, 1]
    assert "off scale" in panels["b"].get_title()  # 47 is far above b's peak
    assert panels["a"].get_ylim()[1] >= 3
    assert {"reserved concurrency", "cold starts per interval"} <= set(legend_texts(fig))


# --------------------------------------------------------------------------- latency


def test_latency_percentiles_per_interval(result):
    fig = plots.latency_over_time(result, interval_s=2.0)
    (ax,) = fig.axes
    df = result.to_dataframe()
    n = len(result.timeseries(2.0)["time_s"])
    idx = np.minimum((df["time_s"] // 2.0).astype(int), n - 1)
    drawn = lines(ax)
    for q in (50, 95, 99):
        y = drawn[f"p{q}"].get_ydata()
        assert len(y) == n
        for k in range(n):
            values = df["latency_s"][idx == k].to_numpy() * 1000
            if len(values):
                assert y[k] == pytest.approx(np.percentile(values, q))
            else:
                assert np.isnan(y[k])
    assert ax.get_ylabel() == "attempt latency (ms)"
    assert legend_texts(fig) == ["p50", "p95", "p99"]


def test_latency_cdf_ends_at_one_per_client(result):
    fig = plots.latency_cdf(result, by_client=True)
    (ax,) = fig.axes
    assert ax.get_xscale() == "log"
    curves = [line for line in ax.get_lines() if "(n=" in line.get_label()]
    assert [c.get_label().split(" (")[0] for c in curves] == ["all clients", "shop", "feed"]
    for curve in curves:
        x, y = curve.get_xdata(), curve.get_ydata()
        assert y[-1] == 1.0 and np.all(np.diff(y) > 0) and np.all(np.diff(x) >= 0)
    df = result.to_dataframe()
    assert curves[0].get_xdata()[-1] == pytest.approx(df["latency_s"].max() * 1000)
    assert curves[1].get_label() == f"shop (n={int((df['client'] == 'shop').sum()):,})"
    per_request = plots.latency_cdf(result, requests=True)
    assert "request" in per_request.axes[0].get_xlabel()


def test_a_long_cdf_is_thinned_but_still_ends_at_one(build):
    r = simulator.simulate(build(None, duration="10s", clients=[
        {"name": "c", "routes": {"GET /x": 1}, "arrivals": {"process": "uniform", "rate": 300}}]))
    (curve,) = [line for line in plots.latency_cdf(r).axes[0].get_lines() if "(n=" in line.get_label()]
    assert r.n_attempts == 3000
    assert len(curve.get_ydata()) <= 2000
    assert curve.get_ydata()[-1] == 1.0
    assert curve.get_ydata()[0] == pytest.approx(1 / 3000)


def test_a_run_without_attempts_still_draws(build, tmp_path):
    quiet = {"name": "c", "routes": {"GET /x": 1}, "arrivals": {"process": "poisson", "rate": 1e-6}}
    r = simulator.simulate(build(None, duration="3s", clients=[quiet]), seed=1)
    assert r.n_attempts == 0
    figures = plots.run_figures(r)
    layers = steps(figures["outcomes"])
    assert list(layers) == ["offered (requests started)"]
    assert list(layers["offered (requests started)"].get_data().values) == [0, 0, 0]
    assert "no attempts" in [t.get_text() for t in figures["latency_cdf"].axes[0].texts]
    assert len(plots.save_figures(figures, tmp_path)) == 5


# --------------------------------------------------------------------------- cost


def test_cost_bars_are_the_bill_by_item(result):
    cost = run_cost(result)
    fig = plots.cost_breakdown(cost)
    run_ax, month_ax = fig.axes
    items = [t.get_text() for t in run_ax.get_yticklabels()]
    for ax, breakdown in ((run_ax, cost.run), (month_ax, cost.monthly)):
        widths = [p.get_width() for p in ax.patches if isinstance(p, Rectangle)]
        expected = {f"{s}: {i}": usd for (s, i), usd in breakdown.by_item().items()}
        assert widths == pytest.approx([expected[item] for item in items])
        assert ax.get_xlabel() == "USD"
    assert "Lambda: Requests" in items
    assert run_ax.get_title().startswith("run: $")
    assert set(legend_texts(fig)) == set(cost.run.by_service())


# --------------------------------------------------------------------------- bundle and files


def test_run_figures_and_saved_files(result, tmp_path):
    figures = plots.run_figures(result)
    assert list(figures) == ["outcomes", "lambda_concurrency", "latency", "latency_cdf", "cost"]
    for name, fig in figures.items():
        assert isinstance(fig, Figure)
        assert legend_texts(fig), name
        assert all(ax.get_xlabel() or ax.get_ylabel() for ax in fig.axes), name
    assert "cost" not in plots.run_figures(result, cost=False)
    pyplot = sys.modules.get("matplotlib.pyplot")
    assert pyplot is None or pyplot.get_fignums() == []

    small = {"outcomes": figures["outcomes"], "cost": figures["cost"]}
    paths = plots.save_figures(small, tmp_path / "out", formats=("png", "svg"))
    assert [p.name for p in paths] == ["outcomes.png", "outcomes.svg", "cost.png", "cost.svg"]
    png = paths[0].read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    assert paths[1].read_text().lstrip().startswith("<?xml") and "<svg" in paths[1].read_text()
    # The same run plotted again writes the same bytes (no dates, no random SVG ids).
    fresh = plots.run_figures(result)
    again = plots.save_figures({k: fresh[k] for k in small}, tmp_path / "again", formats=("png", "svg"))
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in paths]
    assert [p.name for p in plots.save_figures({"x": figures["latency"]}, tmp_path)] == ["x.png"]


def test_save_figures_refuses_bad_names_and_formats(tmp_path):
    fig = plots.validation_fractions({"200": 1.0}, {"200": 1.0})
    with pytest.raises(ValueError, match="formats"):
        plots.save_figures({"a": fig}, tmp_path, formats=("jpeg",))
    with pytest.raises(ValueError, match="plain file name"):
        plots.save_figures({"../a": fig}, tmp_path)
    with pytest.raises(TypeError):
        plots.save_figures({"a": "not a figure"}, tmp_path)  # type: ignore[dict-item]
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- validation


def test_validation_series_draws_both_series():
    t = np.arange(5.0)
    predicted = pd.DataFrame({"time_s": t, "429": [0, 3, 5, 5, 1], "5XX": [0, 0, 1, 2, 0]})
    observed = pd.DataFrame({"time_s": t[::-1], "429": [2, 4, 6, 2, 0], "5XX": [0, 1, 1, 0, 0]})
    fig = plots.validation_series(predicted, observed)
    assert [ax.get_title(loc="left") for ax in fig.axes] == ["429", "5XX"]
    drawn = lines(fig.axes[0])
    pred = drawn["predicted (model): total 14"]
    obs = drawn["observed: total 14"]
    assert list(pred.get_ydata()[:-1]) == [0, 3, 5, 5, 1]
    assert list(pred.get_xdata()) == [0, 1, 2, 3, 4, 5]  # the last second drawn to its end
    assert list(obs.get_ydata()[:-1]) == [0, 2, 6, 4, 2]  # sorted by time
    assert pred.get_drawstyle() == "steps-post"
    with pytest.raises(ValueError, match="no column '504'"):
        plots.validation_series(predicted, observed, metrics=("504",))


def test_validation_fractions_bars_and_intervals():
    predicted = {"200": 0.70, "429": 0.25, "5XX": 0.05}
    observed = {"200": 0.72, "429": 0.20, "5XX": 0.06, "0": 0.02}
    intervals = {"200": (0.68, 0.74), "429": (0.22, 0.27)}
    fig = plots.validation_fractions(predicted, observed, intervals)
    (ax,) = fig.axes
    heights = [p.get_height() for p in ax.patches if isinstance(p, Rectangle)]
    assert heights == pytest.approx([0.70, 0.25, 0.05, 0.0, 0.72, 0.20, 0.06, 0.02])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["200", "429", "5XX", "0"]
    (bars,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    spans = sorted((round(seg[:, 1].min(), 9), round(seg[:, 1].max(), 9)) for seg in bars.get_segments())
    assert spans == [(0.22, 0.27), (0.68, 0.74)]
    assert "1 of 2 observed shares inside" in ax.get_title()
    assert {"predicted (model)", "observed", "model interval"} == set(legend_texts(fig))
    with pytest.raises(ValueError, match="lo > hi"):
        plots.validation_fractions(predicted, observed, {"200": (0.8, 0.6)})
    with pytest.raises(ValueError, match="neither"):
        plots.validation_fractions(predicted, observed, {"403": (0.0, 0.1)})


# --------------------------------------------------------------------------- sweeps

RC = "functions.checkout.reserved_concurrency"
MEM = "functions.checkout.memory_mb"


def sweep_table() -> pd.DataFrame:
    rows = []
    for mem in (1024, 512):
        for rc in (400, 100, 200):
            rate = 10.0 / rc / (mem / 512)
            rows.append({RC: rc, MEM: mem, "rate_5xx": rate, "rate_5xx_lo": rate * 0.8, "rate_5xx_hi": rate * 1.2,
                         "p99_ms": 800 - rc / 4 + mem / 10, "monthly_usd": 10_000 + 3 * rc + mem})
    return pd.DataFrame(rows)


def test_sweep_lines_with_bands_per_hue():
    table = sweep_table()
    fig = plots.sweep_lines(table, RC, ["rate_5xx", "p99_ms"], hue=MEM)
    rate_ax, p99_ax = fig.axes
    drawn = lines(rate_ax)
    assert set(drawn) == {"memory_mb = 512", "memory_mb = 1024"}
    line = drawn["memory_mb = 512"]
    assert list(line.get_xdata()) == [100, 200, 400]
    assert list(line.get_ydata()) == pytest.approx([0.1, 0.05, 0.025])
    bands = [c for c in rate_ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 2 and not [c for c in p99_ax.collections if isinstance(c, PolyCollection)]
    ys = bands[0].get_paths()[0].vertices[:, 1]
    assert ys.min() == pytest.approx(0.1 * 0.8 / 4) and ys.max() == pytest.approx(0.1 * 1.2)
    assert rate_ax.get_ylabel() == "5XX fraction of attempts" and p99_ax.get_ylabel() == "p99 latency (ms)"
    assert p99_ax.get_xlabel() == RC
    with pytest.raises(ValueError, match="several rows"):
        plots.sweep_lines(table, RC, ["rate_5xx"])
    one_seed = table.assign(rate_5xx_lo=table["rate_5xx"], rate_5xx_hi=table["rate_5xx"])
    assert not plots.sweep_lines(one_seed, RC, ["rate_5xx"], hue=MEM).axes[0].collections


def test_sweep_heatmap_cells_are_the_table():
    table = sweep_table().iloc[:-1]  # (rc=200, mem=512) missing
    fig = plots.sweep_heatmap(table, RC, MEM, "rate_5xx")
    ax = fig.axes[0]
    (image,) = [i for i in ax.get_images() if isinstance(i, AxesImage)]
    cells = image.get_array()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["100", "200", "400"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["512", "1024"]
    texts = {(round(t.get_position()[0]), round(t.get_position()[1])): t.get_text() for t in ax.texts}
    for (r, mem) in enumerate((512, 1024)):
        for c, rc in enumerate((100, 200, 400)):
            match = table[(table[RC] == rc) & (table[MEM] == mem)]["rate_5xx"]
            if len(match):
                assert cells[r, c] == pytest.approx(match.iloc[0])
                assert texts[(c, r)] == format_value("rate_5xx", match.iloc[0])
            else:
                assert cells.mask[r, c] and texts[(c, r)] == "–"
    assert texts[(0, 0)] == "10.0%"
    assert "5XX fraction" in fig.axes[1].get_ylabel()  # the colour bar
    with pytest.raises(ValueError, match="several rows"):
        plots.sweep_heatmap(pd.concat([table, table]), RC, MEM, "rate_5xx")
    with pytest.raises(ValueError, match="no column 'p50_ms'"):
        plots.sweep_heatmap(table, RC, MEM, "p50_ms")


def test_sweep_figures_by_number_of_keys():
    table = sweep_table()
    one = plots.sweep_figures(table[table[MEM] == 512], [RC], metrics=["rate_5xx", "p99_ms"])
    assert list(one) == ["sweep"] and len(one["sweep"].axes) == 2
    two = plots.sweep_figures(table, [RC, MEM], metrics=["rate_5xx", "p99_ms"])
    assert list(two) == ["sweep", "heatmap_rate_5xx", "heatmap_p99_ms"]
    three = plots.sweep_figures(table.assign(region=["a", "b"] * 3), [RC, "region", MEM], metrics=["p99_ms"])
    assert list(three) == ["sweep_1", "sweep_2"]
    assert three["sweep_1"].get_suptitle().endswith("(memory_mb = 1024)")
    (line_a, line_b) = three["sweep_1"].axes[0].get_lines()
    assert [line_a.get_label(), line_b.get_label()] == ["region = a", "region = b"]
    assert len(line_a.get_xdata()) + len(line_b.get_xdata()) == 3

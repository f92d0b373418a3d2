"""CloudWatch-style series from known timelines."""

import simulator


def test_per_second_metrics(build):
    # Reserved 1: at t=0.0 cold start (0.6 s), 0.1 throttled, 1.0 warm, 1.05 throttled, 2.5 warm.
    s = build([0.0, 0.1, 1.0, 1.05, 2.5], duration="3s",
              functions=[{"name": "f", "duration": "100ms", "init": "500ms", "reserved_concurrency": 1}])
    ts = simulator.simulate(s).timeseries(1.0)
    assert ts["time_s"].tolist() == [0.0, 1.0, 2.0]
    assert ts["Count"].tolist() == [2, 2, 1]
    assert ts["5XXError"].tolist() == [1, 1, 0]
    assert ts["4XXError"].tolist() == [0, 0, 0]
    assert ts["Invocations"].tolist() == [1, 1, 1]
    assert ts["Throttles[f]"].tolist() == [1, 1, 0]
    assert ts["ConcurrentExecutions[f]"].tolist() == [1, 1, 1]
    # Lambda's throttles answer the gateway at once: they count with 0 ms.
    assert ts["IntegrationLatency"].tolist() == [300.0, 50.0, 100.0]


def test_concurrency_carries_across_quiet_intervals(build):
    s = build([0.0], duration="5s", functions=[{"name": "f", "duration": "3500ms", "init": "0ms"}])
    ts = simulator.simulate(s).timeseries(1.0)
    assert ts["ConcurrentExecutions"].tolist() == [1, 1, 1, 1, 0]


def test_minute_series_sum_the_second_series(build):
    s = build(None, duration="150s")
    one = simulator.simulate(s).timeseries(1.0)
    sixty = simulator.simulate(s).timeseries(60.0)
    assert sixty["Count"].sum() == one["Count"].sum() == 150
    assert sixty["Count"].tolist() == [60, 60, 30]

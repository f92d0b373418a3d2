"""throttlesim import --from account, against moto: the same stack from its template and from the account.

moto's CloudFormation cannot create stages, usage plans or v2 APIs, so the account is built with
direct boto3 calls mirroring tests/data/stack/sam_rest.yaml. The Lambda calls moto lacks
(``get_account_settings``, ``list_provisioned_concurrency_configs``) are answered by a botocore
``before-call`` hook with what the template declares.
"""

from __future__ import annotations

import io
import tomllib
import types
import zipfile
from pathlib import Path
from typing import Any

import pytest

import simulator
from simulator.scenario import Scenario
from simulator.stack.importer import import_stack

pytest.importorskip("cfnlint")
moto = pytest.importorskip("moto")
boto3 = pytest.importorskip("boto3")

DATA = Path(__file__).parent / "data" / "stack"
REGION = "us-east-1"
ACCOUNT = "123456789012"


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", "def handler(event, context):\n    return {}\n")
    return buf.getvalue()


def _hooks(session: Any) -> list[str]:
    """Answer the Lambda calls moto does not implement; returns the operations answered."""
    answered: list[str] = []
    ok = types.SimpleNamespace(status_code=200)

    def provisioned(params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]]:
        answered.append("ListProvisionedConcurrencyConfigs")
        name = params["url_path"].split("/functions/")[1].split("/")[0]
        configs = [{"FunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}:live",
                    "RequestedProvisionedConcurrentExecutions": 5, "Status": "READY"}]
        if name != "OrdersFunction":
            configs = []
        return ok, {"ProvisionedConcurrencyConfigs": configs}

    def account(**_: Any) -> tuple[Any, dict[str, Any]]:
        answered.append("GetAccountSettings")
        return ok, {"AccountLimit": {"ConcurrentExecutions": 1000, "UnreservedConcurrentExecutions": 900}}

    session.events.register("before-call.lambda.ListProvisionedConcurrencyConfigs", provisioned)
    session.events.register("before-call.lambda.GetAccountSettings", account)
    return answered


def _build(session: Any) -> None:
    """The stack of sam_rest.yaml, made with the API calls a console or CLI user would make."""
    iam, lam, ag = (session.client(s, region_name=REGION) for s in ("iam", "lambda", "apigateway"))
    role = iam.create_role(RoleName="orders", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam.create_function(FunctionName="OrdersFunction", Runtime="python3.12", Role=role, Handler="index.handler",
                        Code={"ZipFile": _zip()}, MemorySize=512, Timeout=10, Architectures=["arm64"], Publish=True)
    lam.put_function_concurrency(FunctionName="OrdersFunction", ReservedConcurrentExecutions=100)
    alias = lam.create_alias(FunctionName="OrdersFunction", Name="live", FunctionVersion="1")["AliasArn"]
    api = ag.create_rest_api(name="OrdersApi")["id"]
    root = ag.get_resources(restApiId=api)["items"][0]["id"]
    orders = ag.create_resource(restApiId=api, parentId=root, pathPart="orders")["id"]
    for method in ("GET", "POST"):
        ag.put_method(restApiId=api, resourceId=orders, httpMethod=method, authorizationType="NONE",
                      apiKeyRequired=True)
        ag.put_integration(restApiId=api, resourceId=orders, httpMethod=method, type="AWS_PROXY",
                           integrationHttpMethod="POST",
                           uri=f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{alias}/invocations")
    ag.create_stage(restApiId=api, stageName="prod", deploymentId=ag.create_deployment(restApiId=api)["id"])
    ag.update_stage(restApiId=api, stageName="prod", patchOperations=[
        {"op": "replace", "path": p, "value": v} for p, v in (
            ("/*/*/throttling/rateLimit", "500"), ("/*/*/throttling/burstLimit", "250"),
            ("/~1orders/POST/throttling/rateLimit", "50"), ("/~1orders/POST/throttling/burstLimit", "20"))])
    free = ag.create_usage_plan(name="free", apiStages=[{"apiId": api, "stage": "prod"}],
                                throttle={"rateLimit": 5, "burstLimit": 10}, quota={"limit": 1000, "period": "DAY"})
    paid = ag.create_usage_plan(name="paid", apiStages=[{"apiId": api, "stage": "prod", "throttle": {
        "/orders/POST": {"rateLimit": 10, "burstLimit": 10}}}], throttle={"rateLimit": 50, "burstLimit": 100},
        quota={"limit": 1000000, "period": "MONTH"})
    ag.create_usage_plan(name="orphan", apiStages=[], throttle={"rateLimit": 1, "burstLimit": 1})
    for name, plan in (("free-poller", free), ("paid-shop", paid)):
        key = ag.create_api_key(name=name, enabled=True, value=f"secret-value-of-{name}-0000000000")
        ag.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")


def _settings(s: Scenario) -> dict[str, Any]:
    return {"api": (s.api.type, s.api.stage, s.api.api_key_required), "stage": s.stage.throttle,
            "account": (s.account.throttle, s.account.lambda_concurrency),
            "routes": {r.name: (r.function, r.throttle, s.integration_timeout_s(r)) for r in s.routes},
            "functions": {f.name: (f.memory_mb, f.timeout, f.architecture, f.reserved_concurrency,
                                   f.provisioned_concurrency) for f in s.functions},
            "plans": {p.name: (p.throttle, p.quota, p.method_throttles) for p in s.usage_plans},
            "clients": {c.name: c.usage_plan for c in s.clients}}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_SESSION_TOKEN", "testing"), ("AWS_DEFAULT_REGION", REGION)):
        monkeypatch.setenv(name, value)
    with moto.mock_aws():
        yield boto3.session.Session(region_name=REGION)


def test_the_account_and_the_template_give_the_same_scenario(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    answered = _hooks(aws)
    _build(aws)
    live = import_stack("account", source="account", session=aws)
    monkeypatch.chdir(DATA)
    template = import_stack("sam_rest.yaml")
    from_account = simulator.parse_scenario(tomllib.loads(live.text))
    from_template = simulator.parse_scenario(tomllib.loads(template.text))
    assert _settings(from_account) == _settings(from_template)
    assert {"ListProvisionedConcurrencyConfigs", "GetAccountSettings"} <= set(answered)
    assert "secret-value-of" not in live.text  # key values are never read into the scenario
    assert "# apigateway get_stage (OrdersApi, prod)" in live.text
    assert any("usage plan orphan is attached to no stage" in f for f in live.findings)


def test_several_apis_need_a_choice(aws: Any) -> None:
    from simulator.stack.errors import StackError

    _hooks(aws)
    ag = aws.client("apigateway", region_name=REGION)
    ag.create_rest_api(name="one")
    ag.create_rest_api(name="two")
    with pytest.raises(StackError, match="choose one with --api NAME"):
        import_stack("account", source="account", session=aws)


def test_calibrate_reads_cloudwatch_metrics(aws: Any, tmp_path: Path) -> None:
    """A run's per-minute series put into CloudWatch come back as the observed series and the arrival rate."""
    from datetime import timedelta

    import pandas as pd

    from simulator.cli import main

    oracle = DATA / "oracle.toml"
    scenario = simulator.load_scenario(oracle)
    series = simulator.simulate(scenario, engine="simpy").timeseries_dataframe(60)
    series = series[series.time_s < scenario.duration]  # the minutes of arrivals, not the drain after them
    cw = aws.client("cloudwatch", region_name=REGION)
    api = [{"Name": "ApiName", "Value": "oracle"}, {"Name": "Stage", "Value": "prod"}]
    fn = [{"Name": "FunctionName", "Value": "orders"}]
    for values in series.to_dict("records"):
        at = scenario.start + timedelta(seconds=float(values["time_s"]))
        data = [{"MetricName": m, "Dimensions": api, "Timestamp": at, "Value": float(values[m])}
                for m in ("Count", "5XXError", "Latency") if values[m] == values[m]]  # no datapoint for NaN
        data.append({"MetricName": "Invocations", "Dimensions": fn, "Timestamp": at,
                     "Value": float(values["Invocations[orders]"])})
        cw.put_metric_data(Namespace="AWS/ApiGateway", MetricData=data[:-1])
        cw.put_metric_data(Namespace="AWS/Lambda", MetricData=data[-1:])
    (tmp_path / "api.toml").write_text(oracle.read_text().replace('rate = 50 }', 'rate = 1 }'))
    window = "2026-01-01T00:00Z/2026-01-01T00:02Z"
    assert main(["calibrate", str(tmp_path / "api.toml"), "--metrics", window, "--api", "oracle",
                 "-o", str(tmp_path / "out.toml")]) == 0
    observed = pd.read_csv(tmp_path / "out_observed.csv")
    assert observed["Count"].tolist() == series["Count"].tolist()
    assert observed["Invocations[orders]"].tolist() == series["Invocations[orders]"].tolist()
    calibrated = simulator.load_scenario(tmp_path / "out.toml")
    profile = calibrated.clients[0].arrivals.rate
    assert [r for _, r in profile] == pytest.approx([c / 60 for c in series["Count"]])
    assert calibrated.duration == 120.0


def test_metrics_with_no_data_are_a_one_line_error(aws: Any, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from simulator.cli import main

    (tmp_path / "api.toml").write_text((DATA / "oracle.toml").read_text())
    assert main(["calibrate", str(tmp_path / "api.toml"), "--metrics", "2026-01-01T00:00Z/2026-01-01T01:00Z",
                 "--api", "nothing", "-o", str(tmp_path / "out.toml")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no Count datapoints" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["api.toml"]

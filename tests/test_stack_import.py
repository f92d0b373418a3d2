"""throttlesim import: golden scenarios from SAM, CloudFormation and OpenAPI files, findings, bad input."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest

pytest.importorskip("cfnlint")

import simulator
from simulator.cli import main
from simulator.stack.errors import StackError
from simulator.stack.importer import import_stack

DATA = Path(__file__).parent / "data" / "stack"
SOURCES = ["sam_rest.yaml", "sam_http.yaml", "cfn_rest.json", "openapi_rest.yaml", "terraform_plan.json"]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the fixtures, as the working directory (the output names sources relatively)."""
    for name in SOURCES:
        shutil.copy(DATA / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("source", SOURCES)
def test_golden_scenario(data_dir: Path, source: str) -> None:
    imported = import_stack(source)
    expected = (DATA / "expected" / (Path(source).stem + ".toml")).read_text(encoding="utf-8")
    assert imported.text == expected
    simulator.parse_scenario(tomllib.loads(imported.text), source=source, base_dir=data_dir)


def test_sam_rest_values_and_origins(data_dir: Path) -> None:
    s = simulator.parse_scenario(tomllib.loads(import_stack("sam_rest.yaml").text))
    assert (s.api.type, s.api.stage, s.api.api_key_required) == ("REST", "prod", True)
    assert (s.stage.throttle.rate, s.stage.throttle.burst) == (500, 250)
    assert s.route("POST /orders").throttle.model_dump() == {"rate": 50, "burst": 20}
    assert s.route("GET /orders").throttle is None
    fn = s.function("OrdersFunction")
    assert (fn.memory_mb, fn.architecture, fn.timeout, fn.reserved_concurrency, fn.provisioned_concurrency) == (
        512, "arm64", 10.0, 100, 5)
    free, paid = s.usage_plan("free"), s.usage_plan("paid")
    assert (free.quota.limit, free.quota.period, free.throttle.rate, free.throttle.burst) == (1000, "DAY", 5, 10)
    assert paid.method_throttles["POST /orders"].model_dump() == {"rate": 10, "burst": 10}
    assert {c.name: c.usage_plan for c in s.clients} == {"free-poller": "free", "paid-shop": "paid"}
    assert all(c.api_key.startswith("PLACEHOLDER-") for c in s.clients)
    text = import_stack("sam_rest.yaml").text
    # The memory came through a parameter; the burst of the POST method setting from its own line.
    assert 'memory_mb = 512  # sam_rest.yaml:11 (Default of parameter OrdersMemory)' in text
    lines = (data_dir / "sam_rest.yaml").read_text().splitlines()
    assert lines[32 - 1].strip() == "ThrottlingBurstLimit: 20"
    assert "burst sam_rest.yaml:32" in text


def test_findings_of_the_catalog_template(data_dir: Path) -> None:
    findings = "\n".join(import_stack("cfn_rest.json").findings)
    for expected in ("method setting POST /orders names no method",
                     "usage plan orphan is attached to no stage",
                     "at or above the default account throttle",
                     "integration timeout is 35 s, above 29 s",
                     "throttles every request (429)",
                     "reserved concurrency 0"):
        assert expected in findings


def test_terraform_plan_through_modules_and_unset_values(data_dir: Path) -> None:
    imported = import_stack("terraform_plan.json")
    s = simulator.parse_scenario(tomllib.loads(imported.text))
    fn = s.function("orders")  # the integration's uri is a module variable that references the alias
    assert (fn.memory_mb, fn.reserved_concurrency, fn.provisioned_concurrency) == (1024, None, 10)  # -1 is unset
    assert s.stage.throttle.model_dump() == {"rate": 300, "burst": 150}
    assert s.integration_timeout_s(s.route("GET /orders")) == 12.0
    assert any("POST /orders's throttle has rate 0, burst 0: it throttles every request" in f
               for f in imported.findings)


def test_params_override_defaults(data_dir: Path) -> None:
    text = import_stack("cfn_rest.json", params={"Env": "test", "SearchTimeoutMs": "20000"}).text
    s = simulator.parse_scenario(tomllib.loads(text))
    assert s.api.stage == "test"
    assert s.function("search").memory_mb == 256  # Fn::FindInMap with Ref Env
    assert s.function("search").reserved_concurrency == 50  # Fn::If on the IsLive condition
    assert s.integration_timeout_s(s.route("GET /items")) == 20.0
    assert "# --param SearchTimeoutMs" in text


def _write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


_API = """
  Api{n}:
    Type: AWS::ApiGateway::RestApi
    Properties: {{Name: api{n}}}
"""


@pytest.mark.parametrize(("text", "message"), [
    ("Resources:\n  A: [1,\n", ":3: cannot read the template"),
    ("Resources:\n  Thing:\n    Type: AWS::Nope::Thing\n",
     ":2: resource Thing: unknown resource type AWS::Nope::Thing"),
    ("Resources:" + _API.format(n=1) + _API.format(n=2), "has 2 APIs (Api1, Api2); choose one with --api NAME"),
    ("Parameters:\n  Mem:\n    Type: Number\nResources:\n  F:\n    Type: AWS::Lambda::Function\n    Properties:\n"
     "      Role: r\n      Code: {ZipFile: x}\n      MemorySize: !Ref Mem\n" + _API.format(n=1),
     ":10: F.MemorySize: parameter Mem has no Default; give --param Mem=VALUE"),
    ("Resources:\n  T:\n    Type: AWS::SNS::Topic\n", "has no REST or HTTP API"),
])
def test_bad_input_is_one_line_exit_2_and_no_file(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 text: str, message: str) -> None:
    source = _write(tmp_path / "bad.yaml", text)
    out = tmp_path / "out.toml"
    assert main(["import", source, "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(source) and message in err
    assert not out.exists() and list(tmp_path.iterdir()) == [tmp_path / "bad.yaml"]


def test_api_option_chooses_one(tmp_path: Path) -> None:
    source = _write(tmp_path / "two.yaml", "Resources:" + _API.format(n=1) + _API.format(n=2))
    with pytest.raises(StackError, match="API api2 has no routes"):
        import_stack(source, api="api2")


def test_existing_output_is_not_overwritten(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (data_dir / "out.toml").write_text("mine")
    assert main(["import", "sam_rest.yaml", "-o", "out.toml"]) == 2
    assert "exists" in capsys.readouterr().err and (data_dir / "out.toml").read_text() == "mine"
    assert main(["import", "sam_rest.yaml", "-o", "out.toml", "--force"]) == 0
    assert main(["check", "out.toml"]) == 0


def test_missing_extra_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from simulator.errors import ThrottlesimError
    from simulator.stack.errors import require_extra

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ThrottlesimError, match=r"needs cfnlint: pip install 'throttlesim\[aws\]'"):
        require_extra("cfnlint")


def test_help_lists_import_and_export(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "throttlesim import template.yaml -o api.toml" in out
    assert "throttlesim export api.toml -o throttles.yaml" in out


def test_output_that_is_not_a_regular_file_is_refused(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import os

    os.mkfifo(data_dir / "pipe")
    assert main(["import", "sam_rest.yaml", "-o", "pipe", "--force"]) == 2
    assert "is not a regular file" in capsys.readouterr().err
    assert (data_dir / "pipe").is_fifo()

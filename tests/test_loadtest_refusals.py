"""``loadtest``/``validate`` refuse bad input in one line, exit 2, and write nothing.

``--out`` that is a file, has no parent or is on a read-only file system; a ``--target``
URL with a scheme other than http(s); an API key nginx's configuration cannot hold (named
by its path, shown redacted); and a target that cannot be reached, refused after
``--out`` was made, which is then removed again.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.cli import main
from simulator.redact import redact_key

SCENARIO = """
name = "out"
duration = "2s"
routes = [{ name = "GET /a", function = "f" }]
functions = [{ name = "f", duration = "5ms" }]
[[clients]]
name = "open"
routes = { "GET /a" = 1 }
arrivals = { process = "uniform", rate = 5 }
"""

QUOTED_KEY = 'paid"key-0123456789abcdef'
KEYED = f"""
name = "keyed"
duration = "2s"
[api]
type = "REST"
api_key_required = true
[[routes]]
name = "GET /a"
function = "f"
[[functions]]
name = "f"
duration = "5ms"
[[usage_plans]]
name = "paid"
throttle = {{ rate = 10, burst = 5 }}
[[clients]]
name = "plain"
api_key = "plain-key-000000000000"
usage_plan = "paid"
routes = {{ "GET /a" = 1 }}
arrivals = {{ process = "uniform", rate = 5 }}
[[clients]]
name = "quoted"
api_key = '{QUOTED_KEY}'
usage_plan = "paid"
routes = {{ "GET /a" = 1 }}
arrivals = {{ process = "uniform", rate = 5 }}
"""


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO)
    return path


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the CLI; it must exit 2 with one line on stderr and nothing on stdout."""
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2 and out == "", (code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("command", ["loadtest", "validate"])
def test_out_that_is_a_file_or_has_no_parent_is_refused(command: str, scenario: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    where = ["--host", f"http://127.0.0.1:{_closed_port()}"] if command == "loadtest" else ["--target", "emulated"]
    a_file = tmp_path / "a-file"
    a_file.write_text("keep me")
    before = _listing(tmp_path)
    line = _refused([command, str(scenario), *where, "--out", str(a_file)], capsys)
    assert line == f"--out {a_file}: is a file; give a directory"
    deep = tmp_path / "missing" / "deep" / "v"
    line = _refused([command, str(scenario), *where, "--out", str(deep)], capsys)
    assert line == f"--out {deep}: the parent directory does not exist"
    assert _listing(tmp_path) == before and a_file.read_text() == "keep me"


def test_validate_refused_after_out_was_made_removes_it(scenario: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "v"
    url = f"http://127.0.0.1:{_closed_port()}"
    line = _refused(["validate", str(scenario), "--target", url, "--out", str(out)], capsys)
    assert line.startswith(f"cannot reach {url}: ")
    assert not out.exists()


def test_validate_names_an_unsupported_url_scheme(scenario: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "v"
    line = _refused(["validate", str(scenario), "--target", "ftp://127.0.0.1/x", "--out", str(out)], capsys)
    assert line == "--target 'ftp://127.0.0.1/x': the URL scheme 'ftp' is not supported; use http:// or https://"
    line = _refused(["validate", str(scenario), "--target", "emulatd", "--out", str(out)], capsys)
    assert line.startswith("--target 'emulatd': expected emulated or nginx, or the URL")
    assert not out.exists()


def test_a_key_nginx_cannot_hold_is_named_but_not_shown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "keyed.toml"
    path.write_text(KEYED)
    out = tmp_path / "v"
    line = _refused(["validate", str(path), "--target", "nginx", "--out", str(out)], capsys)
    assert line.startswith(f"{path}: clients.1.api_key: the key {redact_key(QUOTED_KEY)} holds '\"'")
    assert QUOTED_KEY not in line and QUOTED_KEY[:5] not in line
    assert not out.exists()
    serve = [sys.executable, "-m", "loadtests.target.serve", str(path), "--port", "0", "--gateway", "nginx"]
    done = subprocess.run(serve, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [f"error: {line}"]


def test_out_on_a_read_only_file_system_is_refused(scenario: Path, tmp_path: Path) -> None:
    """A read-only tmpfs in a mount namespace of its own (as root, with unshare(1))."""
    if shutil.which("unshare") is None:
        pytest.skip("no unshare(1)")
    ro = tmp_path / "ro"
    ro.mkdir()
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("cannot make a mount namespace here")
    cli = f"{sys.executable} -m simulator.cli"
    script = (f"mount -t tmpfs -o ro tmpfs {ro} && "
              f"{cli} loadtest {scenario} --host http://127.0.0.1:{_closed_port()} --out {ro}/lt; echo $?; "
              f"{cli} validate {scenario} --out {ro}/v; echo $?")
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["2", "2"], done
    assert done.stderr.strip().splitlines() == [
        f"--out {ro}/lt: on a read-only file system",
        f"--out {ro}/v: on a read-only file system",
    ]


def test_the_nginx_configuration_never_shows_a_key_it_cannot_hold(tmp_path: Path) -> None:
    import simulator
    from loadtests.target.nginx import nginx_config

    path = tmp_path / "keyed.toml"
    path.write_text(KEYED)
    with pytest.raises(ValueError) as err:
        nginx_config(simulator.load_scenario(path), port=1, upstream_port=2, prefix=tmp_path)
    assert "clients.1.api_key" in str(err.value) and QUOTED_KEY not in str(err.value)

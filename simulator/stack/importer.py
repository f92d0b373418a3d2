"""``throttlesim import``: a template, an OpenAPI file or a Terraform plan in, a checked scenario file out.

:func:`import_stack` reads the source into a :class:`~simulator.stack.model.Stack`, lists
the findings, renders the scenario (:mod:`~simulator.stack.scenario_toml`) and validates it
with the same loader as ``throttlesim check`` before anything is written; the file is written
under a temporary name and renamed, so a failed import leaves no partial file.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from simulator.stack import scenario_access
from simulator.stack.cfn_reader import FUNCTION_ARN
from simulator.stack.cloudformation import read_stack
from simulator.stack.errors import Origin, Sourced, StackError, require_extra
from simulator.stack.findings import check
from simulator.stack.intrinsics import Resolver
from simulator.stack.live import read_account
from simulator.stack.model import RouteSpec, Stack
from simulator.stack.openapi import load_openapi
from simulator.stack.scenario_toml import PLACEHOLDER, render
from simulator.stack.template import decode_file, load_template
from simulator.stack.terraform import read_terraform

__all__ = ["Imported", "import_stack", "write_atomic"]

Source = Literal["cloudformation", "openapi", "terraform", "account"]


@dataclass
class Imported:
    text: str
    findings: list[str] = field(default_factory=list)
    placeholders: int = 0


def _detect(path: Path) -> Source:
    """``openapi`` for a document with a top-level ``openapi`` or ``swagger`` key, else ``cloudformation``."""
    doc = decode_file(path, str(path))
    if "Resources" in doc:
        return "cloudformation"
    if "planned_values" in doc or ("values" in doc and "format_version" in doc):
        return "terraform"
    return "openapi" if "openapi" in doc or "swagger" in doc else "cloudformation"


def _openapi_stack(path: str, api_type: str) -> Stack:
    stack = Stack(source=path, api_name=Path(path).stem, api_type=Sourced(api_type, Origin("--type")),
                  stage=Sourced("prod", Origin("PLACEHOLDER: an OpenAPI file names no stage")))
    for op in load_openapi(path):
        match = FUNCTION_ARN.search(op.uri) if isinstance(op.uri, str) else None
        function = match.group(1) if match else None
        stack.routes.append(RouteSpec(name=op.name, origin=op.origin, function=function,
                                      qualifier=match.group(2) if match else None, timeout_s=op.timeout_s,
                                      api_key_required=op.api_key_required))
        if op.uri is not None and function is None:
            stack.findings.append(f"{op.origin}: {op.name}: integration uri {op.uri!r} names no Lambda function")
    return stack


def _unknown_functions(stack: Stack) -> None:
    for route in stack.routes:
        if route.function and route.function not in stack.functions:
            stack.findings.append(f"{route.origin}: {route.name} calls function {route.function}, which the source "
                                  "does not define: its settings are placeholders")


def read_source(path: str, *, source: Source | None = None, params: Mapping[str, str] | None = None,
                api: str | None = None, stage: str | None = None, region: str = "us-east-1",
                api_type: str = "REST", session: object = None) -> Stack:
    """The stack a template, OpenAPI file, Terraform plan or (``source="account"``, through the boto3
    *session*) live account describes."""
    if source != "account":
        require_extra("cfnlint", "yaml")
    kind = source or _detect(Path(path))
    if kind == "account":
        stack = read_account(api=api, stage=stage, region=region, session=session)
    elif kind == "openapi":
        stack = _openapi_stack(path, api_type)
    elif kind == "terraform":
        stack = read_terraform(path, api=api, stage=stage)
    else:
        template = load_template(path, region=region)
        stack = read_stack(template, Resolver(template, params or {}, region), api=api, stage=stage)
    if not stack.routes:
        raise StackError(path, f"API {stack.api_name} has no routes")
    _unknown_functions(stack)
    return stack


def import_stack(path: str, **options: object) -> Imported:
    """Read *path* and render the scenario; raises :class:`StackError` (one line) on bad input."""
    stack = read_source(path, **options)  # type: ignore[arg-type]
    findings = check(stack)
    text = render(stack, findings)
    try:
        scenario_access.parse_scenario(tomllib.loads(text), source=f"{path} (imported)", base_dir=Path(path).parent)
    except scenario_access.ScenarioError as exc:
        first = str(exc).splitlines()[0]
        raise StackError(path, f"the imported scenario does not check: {first}") from None
    return Imported(text=text, findings=findings, placeholders=text.count(f"# {PLACEHOLDER}"))


def write_atomic(path: str | Path, text: str) -> None:
    """Write *text* to *path* through a temporary file in the same directory, then rename."""
    target = Path(path)
    if target.is_dir():
        raise StackError(str(path), "is a directory; give a file name")
    if target.exists() and not target.is_file():
        raise StackError(str(path), "is not a regular file; give a file name (or no -o to print)")
    if not target.resolve().parent.is_dir():
        raise StackError(str(path), "the directory does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.resolve().parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise



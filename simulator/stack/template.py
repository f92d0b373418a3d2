"""Reading a CloudFormation or SAM template, with the line of every key.

A template is decoded with cfn-lint's decoder (:func:`cfnlint.decode.decode`), which reads
YAML with the short-form tags (``!Ref``, ``!Sub``, ``!GetAtt``...) as well as JSON, and keeps
a mark on every mapping key, so each value read later can say which line it came from.

A SAM template (``Transform: AWS::Serverless-2016-10-31``) is then expanded offline by the
SAM translator that cfn-lint 1.53 bundles (``cfnlint.template.transforms._sam``, an internal
entry point: the ``aws`` extra pins cfn-lint for it; cfn-lint 1.54 stopped bundling it).
What remains is plain CloudFormation, plus OpenAPI bodies on the APIs. The transform keeps
the marks of the keys it copies; for the resources it generates, :meth:`Template.line` looks
the key up in the SAM resource it came from, then in ``Globals``.

https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-specification.html
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator.stack.errors import StackError, require_extra

__all__ = ["SAM_TRANSFORM", "Template", "decode_file", "key_line", "load_template", "node_line", "walk_line"]

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"

#: Resource types that need no schema check: custom resources and modules are the user's own.
_OWN_TYPES = ("Custom::", "AWS::CloudFormation::CustomResource")


# cfn-lint logs a file it cannot read on its loggers as well as returning a match; with no
# handler configured, Python would print those records on stderr. The match is what the user
# sees, in one line (the library's own advice: a NullHandler on its top logger).
logging.getLogger("cfnlint").addHandler(logging.NullHandler())


def key_line(mapping: Any, key: Any) -> int | None:
    """The 1-based line of *key* in a decoded *mapping*, or None when it has no real mark."""
    if not isinstance(mapping, Mapping):
        return None
    for k in mapping:
        if k == key:
            mark = getattr(k, "start_mark", None)
            line = getattr(mark, "line", 0)
            return line + 1 if line else None
    return None


def node_line(node: Any) -> int | None:
    mark = getattr(node, "start_mark", None)
    line = getattr(mark, "line", 0)
    return line + 1 if line else None


def walk_line(node: Any, path: Sequence[Any]) -> int | None:
    """The line of the last key of *path* under *node*, or None when the path is not there."""
    line = None
    for part in path:
        if isinstance(node, Mapping):
            if part not in node:
                return None
            line = key_line(node, part) or line
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            line = node_line(node) or line
        else:
            return None
    return line


@dataclass
class Template:
    """A decoded template: ``data`` is plain CloudFormation (after the SAM transform), with marks."""

    file: str
    data: Mapping[str, Any]
    original: Mapping[str, Any]
    sam: bool = False
    #: Logical ids of the original SAM resources, longest first (to find a generated resource's origin).
    _sam_ids: list[str] = field(default_factory=list)

    @property
    def resources(self) -> Mapping[str, Any]:
        res = self.data.get("Resources") or {}
        return res if isinstance(res, Mapping) else {}

    @property
    def parameters(self) -> Mapping[str, Any]:
        params = self.data.get("Parameters") or {}
        return params if isinstance(params, Mapping) else {}

    def sam_origin(self, logical_id: str) -> str | None:
        """The SAM resource a generated resource came from (SAM prefixes it with that id)."""
        for sam_id in self._sam_ids:
            if logical_id.startswith(sam_id):
                return sam_id
        return None

    def line(self, logical_id: str, path: Sequence[Any]) -> int | None:
        """The template line a resource property (``path`` under ``Properties``) was written on."""
        orig = (self.original.get("Resources") or {}).get(logical_id)
        here = self.resources.get(logical_id) or {}
        if isinstance(orig, Mapping) and orig.get("Type") == here.get("Type"):
            return walk_line(orig.get("Properties"), path) or walk_line(orig, ["Properties"]) or node_line(orig)
        sam_id = self.sam_origin(logical_id)
        if sam_id is not None:
            sam = self.original["Resources"][sam_id]
            kind = str(sam.get("Type", "")).split("::")[-1]
            globals_ = (self.original.get("Globals") or {}).get(kind)
            found = walk_line(sam.get("Properties"), path) or walk_line(globals_, path)
            if found is None and path:
                found = walk_line(sam.get("Properties"), path[-1:]) or walk_line(globals_, path[-1:])
            if found is not None:
                return found
        return walk_line(here.get("Properties"), path) or key_line(self.resources, logical_id)

    def where(self, logical_id: str, path: Sequence[Any]) -> str:
        line = self.line(logical_id, path)
        return f"{self.file}:{line}" if line else self.file


def decode_file(path: Path, source: str) -> Mapping[str, Any]:
    from cfnlint.decode import decode

    if not path.is_file():
        raise StackError(source, "no such file" if not path.exists() else "is not a file")
    data, matches = decode(str(path))
    if matches:
        first = matches[0]
        line = getattr(first, "linenumber", 0)
        at = f"{source}:{line}" if line else source
        message = str(first.message).replace("{filename}", source)
        raise StackError(at, f"cannot read the template: {message}")
    if not isinstance(data, Mapping):
        raise StackError(source, "is not a template (expected a mapping at the top)")
    return data


def _transforms(data: Mapping[str, Any]) -> list[str]:
    declared = data.get("Transform") or []
    return [str(t) for t in (declared if isinstance(declared, list) else [declared])]


def _sam_transform(source: str, data: Mapping[str, Any], region: str) -> Mapping[str, Any]:
    """Expand SAM resources into CloudFormation, keeping the users' OpenAPI bodies."""
    from cfnlint.template.transforms._sam import Transform

    work = copy.deepcopy(data)
    bodies = {}
    for logical_id, res in (work.get("Resources") or {}).items():
        props = res.get("Properties") if isinstance(res, Mapping) else None
        if isinstance(props, Mapping) and isinstance(props.get("DefinitionBody"), Mapping):
            bodies[logical_id] = copy.deepcopy(props["DefinitionBody"])
    transform = Transform(source, work, region)
    matches = transform.transform_template()
    if matches:
        raise StackError(source, f"the SAM transform failed: {matches[0].message}")
    out = transform.template()
    for logical_id, body in bodies.items():
        api = (out.get("Resources") or {}).get(logical_id)
        if isinstance(api, Mapping) and isinstance(api.get("Properties"), Mapping):
            _merge_body(api["Properties"], body)
    return out


def _merge_body(props: Any, body: Mapping[str, Any]) -> None:
    """Put the user's OpenAPI paths back (cfn-lint blanks a DefinitionBody next to Auth or Cors)."""
    generated = props.get("Body") if isinstance(props.get("Body"), Mapping) else {}
    merged = dict(copy.deepcopy(body))
    paths = merged.setdefault("paths", {})
    for path, methods in (generated.get("paths") or {}).items():
        target = paths.setdefault(path, {})
        for method, operation in (methods or {}).items():
            target.setdefault(method, operation)
    for key, value in generated.items():
        if key != "paths":
            merged.setdefault(key, value)
    props["Body"] = merged


def _check_types(template: Template) -> None:
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    region = "us-east-1"
    for logical_id, res in template.resources.items():
        kind = res.get("Type") if isinstance(res, Mapping) else None
        at = f"{template.file}:{key_line(template.resources, logical_id) or template.line(logical_id, [])}"
        if not isinstance(kind, str):
            raise StackError(at, f"resource {logical_id} has no Type")
        if kind.startswith(_OWN_TYPES) or kind.endswith("::MODULE"):
            continue
        try:
            PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, kind)
        except Exception:  # cfn-lint's ResourceNotFoundError; its module path is internal too
            raise StackError(at, f"resource {logical_id}: unknown resource type {kind}") from None


def load_template(path: str | Path, *, region: str = "us-east-1") -> Template:
    """Decode a template and expand SAM; bad input raises :class:`StackError` naming file and line."""
    require_extra("cfnlint", "yaml")
    source = str(path)
    original = decode_file(Path(path), source)
    resources = original.get("Resources")
    if not isinstance(resources, Mapping) or not resources:
        raise StackError(source, "the template has no Resources")
    sam = SAM_TRANSFORM in _transforms(original)
    data = _sam_transform(source, original, region) if sam else original
    sam_ids = sorted((k for k, v in resources.items() if str(v.get("Type", "")).startswith("AWS::Serverless::")),
                     key=len, reverse=True) if sam else []
    template = Template(file=source, data=data, original=original, sam=sam, _sam_ids=sam_ids)
    _check_types(template)
    return template

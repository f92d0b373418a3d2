"""Evaluating CloudFormation's intrinsic functions far enough to link resources.

The importer needs values (a throttle rate, a timeout) and links (which function an
integration calls). :class:`Resolver` evaluates what a template can know without deploying:

* ``Ref`` to a parameter: the ``--param NAME=VALUE`` given, else the parameter's ``Default``;
  to a pseudo-parameter: a stated value (``AWS::Region`` is the ``--region``, the account id
  is ``123456789012``); to a resource: the token ``{ref:LogicalId}``;
* ``Fn::GetAtt``: ``{arn:LogicalId}`` for ``Arn``, ``{att:LogicalId.Name}`` otherwise;
* ``Fn::Sub``, ``Fn::Join``, ``Fn::Select``, ``Fn::Split``, ``Fn::If`` (with the template's
  ``Conditions``), ``Fn::FindInMap``;
* anything else (``Fn::ImportValue``, ``Fn::GetAZs``...) becomes :class:`Unresolved`, which is
  an error only where a number is needed.

https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference.html
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from simulator.stack.errors import Origin
from simulator.stack.template import Template, key_line

__all__ = ["NO_VALUE", "Resolver", "Unresolved", "linked_ids"]

ACCOUNT_ID = "123456789012"


@dataclass(frozen=True)
class Unresolved:
    """A value the template cannot give without deploying; ``why`` says what is missing."""

    why: str


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()

_TOKEN = re.compile(r"\{(ref|arn|att|root):([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}")


def linked_ids(value: Any) -> list[str]:
    """The logical ids a resolved value refers to, in order."""
    return [m.group(2) for m in _TOKEN.finditer(value)] if isinstance(value, str) else []


class Resolver:
    """Evaluates intrinsic functions of one template."""

    def __init__(self, template: Template, params: Mapping[str, str], region: str) -> None:
        self.template = template
        self.params = dict(params)
        self.pseudo = {
            "AWS::Region": region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": "stack",
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{ACCOUNT_ID}:stack/stack/id",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
        }
        self._conditions: dict[str, bool] = {}

    # ------------------------------------------------------------------ parameters

    def parameter(self, name: str) -> Any:
        spec = self.template.parameters.get(name)
        if name in self.params:
            raw: Any = self.params[name]
        elif isinstance(spec, Mapping) and "Default" in spec:
            raw = spec["Default"]
        else:
            return Unresolved(f"parameter {name} has no Default; give --param {name}=VALUE")
        kind = str(spec.get("Type", "String")) if isinstance(spec, Mapping) else "String"
        if kind == "Number":
            try:
                number = float(raw)
            except (TypeError, ValueError):
                return Unresolved(f"parameter {name} is a Number, got {raw!r}")
            return int(number) if number.is_integer() else number
        if kind in ("CommaDelimitedList", "List<Number>") and isinstance(raw, str):
            return [p.strip() for p in raw.split(",")]
        return raw

    def param_origin(self, node: Any) -> Origin | None:
        """Where a value written as ``Ref: Param`` came from, or None if *node* is no such Ref."""
        if not (isinstance(node, Mapping) and len(node) == 1 and "Ref" in node):
            return None
        name = node["Ref"]
        if name in self.params:
            return Origin(f"--param {name}")
        if name in self.template.parameters:
            line = key_line(self.template.parameters.get(name), "Default")
            return Origin.line(self.template.file, line, f"(Default of parameter {name})")
        return None

    # ------------------------------------------------------------------ evaluation

    def resolve(self, node: Any) -> Any:
        if isinstance(node, Mapping):
            if len(node) == 1:
                (key, arg), = node.items()
                handler = _FUNCTIONS.get(str(key))
                if handler is not None:
                    return handler(self, arg)
            out = {}
            for k, v in node.items():
                value = self.resolve(v)
                if value is not NO_VALUE:
                    out[str(k)] = value
            return out
        if isinstance(node, list):
            return [v for v in (self.resolve(x) for x in node) if v is not NO_VALUE]
        if isinstance(node, str):
            return str(node)
        return node

    def _ref(self, name: Any) -> Any:
        name = str(name)
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.template.parameters:
            return self.parameter(name)
        if name in self.template.resources:
            return f"{{ref:{name}}}"
        return Unresolved(f"Ref to {name}, which is neither a parameter nor a resource")

    def _getatt(self, arg: Any) -> Any:
        if isinstance(arg, str):
            arg = arg.split(".", 1)
        if not (isinstance(arg, list) and len(arg) == 2):
            return Unresolved(f"Fn::GetAtt needs [LogicalId, Attribute], got {arg!r}")
        logical_id, attr = str(arg[0]), self.resolve(arg[1])
        if attr == "Arn":
            return f"{{arn:{logical_id}}}"
        if attr == "RootResourceId":
            return f"{{root:{logical_id}}}"
        return f"{{att:{logical_id}.{attr}}}"

    def _sub(self, arg: Any) -> Any:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1] if len(arg) > 1 else {})
        values = {str(k): self.resolve(v) for k, v in (variables or {}).items()}

        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in values:
                value = values[name]
            elif "." in name and name.split(".", 1)[0] in self.template.resources:
                value = self._getatt(name)
            else:
                value = self._ref(name)
            if isinstance(value, Unresolved):
                raise _Stop(value)
            return str(value)

        try:
            return re.sub(r"\$\{([^}]+)\}", one, str(text))
        except _Stop as stop:
            return stop.value

    def _join(self, arg: Any) -> Any:
        delimiter, items = arg[0], self.resolve(arg[1])
        if not isinstance(items, list):
            return Unresolved("Fn::Join needs a list")
        bad = [i for i in items if isinstance(i, Unresolved)]
        return bad[0] if bad else str(delimiter).join(str(i) for i in items)

    def _select(self, arg: Any) -> Any:
        index, items = self.resolve(arg[0]), self.resolve(arg[1])
        try:
            return items[int(index)]
        except (TypeError, ValueError, IndexError, KeyError):
            return Unresolved(f"Fn::Select index {index!r} is not in the list")

    def _split(self, arg: Any) -> Any:
        text = self.resolve(arg[1])
        return text.split(str(arg[0])) if isinstance(text, str) else Unresolved("Fn::Split needs a string")

    def _find_in_map(self, arg: Any) -> Any:
        name, first, second = (self.resolve(a) for a in arg[:3])
        try:
            return self.resolve(self.template.data["Mappings"][name][first][second])
        except (KeyError, TypeError):
            if len(arg) > 3 and isinstance(arg[3], Mapping) and "DefaultValue" in arg[3]:
                return self.resolve(arg[3]["DefaultValue"])
            return Unresolved(f"Fn::FindInMap: no {name}.{first}.{second} in Mappings")

    def _if(self, arg: Any) -> Any:
        return self.resolve(arg[1] if self.condition(str(arg[0])) else arg[2])

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            conditions = self.template.data.get("Conditions") or {}
            self._conditions[name] = bool(self._truth(conditions.get(name, False)))
        return self._conditions[name]

    def _truth(self, node: Any) -> bool:
        if isinstance(node, Mapping) and len(node) == 1:
            (key, arg), = node.items()
            if key == "Fn::Equals":
                return self.resolve(arg[0]) == self.resolve(arg[1]) or str(self.resolve(arg[0])) == str(
                    self.resolve(arg[1]))
            if key == "Fn::Not":
                return not self._truth(arg[0])
            if key == "Fn::And":
                return all(self._truth(a) for a in arg)
            if key == "Fn::Or":
                return any(self._truth(a) for a in arg)
            if key == "Condition":
                return self.condition(str(arg))
        return bool(node is True or str(node).lower() == "true")


class _Stop(Exception):
    def __init__(self, value: Unresolved) -> None:
        self.value = value


def _unresolved(name: str) -> Any:
    return lambda self, arg: Unresolved(f"{name} cannot be evaluated from the template alone")


_FUNCTIONS: dict[str, Any] = {
    "Ref": lambda self, arg: self._ref(arg),
    "Fn::GetAtt": Resolver._getatt,
    "Fn::Sub": Resolver._sub,
    "Fn::Join": Resolver._join,
    "Fn::Select": Resolver._select,
    "Fn::Split": Resolver._split,
    "Fn::FindInMap": Resolver._find_in_map,
    "Fn::If": Resolver._if,
    "Fn::ImportValue": _unresolved("Fn::ImportValue"),
    "Fn::GetAZs": _unresolved("Fn::GetAZs"),
    "Fn::Base64": _unresolved("Fn::Base64"),
    "Fn::Cidr": _unresolved("Fn::Cidr"),
}

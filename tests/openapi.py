"""X's OpenAPI schemas (tests/fixtures/openapi/), and a validator for what they use.

``problems(instance, "CreateWebhooksResponse")`` lists where ``instance``
breaks the named component schema (empty when it conforms). The validator
covers the JSON Schema keywords the v2 paths the emulator serves use:
``$ref``, ``type``, ``properties``, ``required``, ``additionalProperties:
false``, ``items``, ``enum``, ``pattern``, ``minLength``/``maxLength``,
``minItems``/``maxItems``, ``minimum``/``maximum``, ``anyOf`` and ``oneOf``
(through the discriminator when there is one).
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

SPEC = Path(__file__).resolve().parent / "fixtures" / "openapi" / "x-api-v2.167-subset.json"

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


@cache
def spec() -> dict[str, Any]:
    """The subset of X's spec, as published."""
    data: dict[str, Any] = json.loads(SPEC.read_text())
    return data


def schema(name: str) -> dict[str, Any]:
    """The component schema ``name``."""
    found: dict[str, Any] = spec()["components"]["schemas"][name]
    return found


def problems(instance: Any, name: str) -> list[str]:
    """Where ``instance`` breaks the component schema ``name`` (empty: it conforms)."""
    return _check(instance, schema(name), name)


def _check(value: Any, node: dict[str, Any], at: str) -> list[str]:
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return _check(value, schema(name), f"{at}<{name}>")
    found: list[str] = []
    kind = node.get("type")
    if kind is not None:
        if isinstance(value, bool) and kind in ("integer", "number"):
            return [f"{at}: {value!r} is not {kind}"]
        if not isinstance(value, _TYPES[kind]):
            return [f"{at}: {value!r} is not {kind}"]
    if "enum" in node and value not in node["enum"]:
        found.append(f"{at}: {value!r} is not one of {node['enum']}")
    if isinstance(value, str):
        if "pattern" in node and not re.search(node["pattern"], value):
            found.append(f"{at}: {value!r} does not match {node['pattern']}")
        if len(value) < node.get("minLength", 0) or len(value) > node.get("maxLength", 1 << 30):
            found.append(f"{at}: {value!r} has a length outside the schema's")
    number = isinstance(value, int) and not isinstance(value, bool)
    if number and not node.get("minimum", value) <= value <= node.get("maximum", value):
        found.append(f"{at}: {value} is out of range")
    if isinstance(value, list):
        if len(value) < node.get("minItems", 0) or len(value) > node.get("maxItems", 1 << 30):
            found.append(f"{at}: {len(value)} items is outside the schema's bounds")
        for i, item in enumerate(value):
            found += _check(item, node.get("items", {}), f"{at}[{i}]")
    if isinstance(value, dict):
        found += _check_object(value, node, at)
    if "anyOf" in node and all(_check(value, option, at) for option in node["anyOf"]):
        found.append(f"{at}: matches none of anyOf")
    if "oneOf" in node:
        found += _check_one_of(value, node, at)
    return found


def _check_object(value: dict[str, Any], node: dict[str, Any], at: str) -> list[str]:
    found = [
        f"{at}: {name!r} is required" for name in node.get("required", ()) if name not in value
    ]
    properties = node.get("properties", {})
    for name, item in value.items():
        if name in properties:
            found += _check(item, properties[name], f"{at}.{name}")
        elif node.get("additionalProperties") is False:
            found.append(f"{at}: {name!r} is not allowed")
    return found


def _check_one_of(value: Any, node: dict[str, Any], at: str) -> list[str]:
    discriminator = node.get("discriminator")
    if discriminator and isinstance(value, dict):
        ref = discriminator["mapping"].get(value.get(discriminator["propertyName"]))
        if ref is None:
            return [f"{at}: {value.get(discriminator['propertyName'])!r} names no mapped schema"]
        return _check(value, {"$ref": ref}, at)
    matching = [option for option in node["oneOf"] if not _check(value, option, at)]
    return [] if len(matching) == 1 else [f"{at}: matches {len(matching)} of oneOf, not 1"]

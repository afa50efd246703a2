"""Stash's real GraphQL schema (from ../shared/stash-schema), for checking documents against it.

The schema files live outside the repository; where they are absent, `load_real_schema()`
returns None and tests skip with `MISSING_REASON`.
"""

from __future__ import annotations

import functools
from pathlib import Path

import graphql

SCHEMA_DIR = Path(__file__).resolve().parents[3] / "shared" / "stash-schema"
MISSING_REASON = f"Stash's real GraphQL schema is not available at {SCHEMA_DIR}"


@functools.lru_cache(maxsize=1)
def load_real_schema() -> graphql.GraphQLSchema | None:
    """Build the real Stash schema, or None when ../shared/stash-schema is absent."""
    top = SCHEMA_DIR / "schema.graphql"
    if not top.is_file():
        return None
    files = [top, *sorted((SCHEMA_DIR / "types").glob("*.graphql"))]
    return graphql.build_schema("\n".join(f.read_text(encoding="utf-8") for f in files))


def validate_against_real_schema(document: str) -> list[str]:
    """Error messages for `document` against the real schema; empty when it is valid."""
    schema = load_real_schema()
    if schema is None:
        raise LookupError(MISSING_REASON)
    try:
        ast = graphql.parse(document)
    except graphql.GraphQLError as exc:
        return [exc.message]
    return [error.message for error in graphql.validate(schema, ast)]


def subset_errors(ours: graphql.GraphQLSchema, real: graphql.GraphQLSchema) -> list[str]:
    """Ways `ours` is not a faithful subset of `real` (so a valid document could fail on real)."""
    errors: list[str] = []
    for name, our_type in ours.type_map.items():
        if name.startswith("__") or graphql.is_specified_scalar_type(our_type):
            continue
        real_type = real.type_map.get(name)
        if real_type is None or type(real_type) is not type(our_type):
            errors.append(f"type {name}: missing or of another kind in the real schema")
        elif isinstance(our_type, graphql.GraphQLEnumType):
            errors += [
                f"enum {name}.{value}: not in the real schema"
                for value in our_type.values
                if value not in real_type.values
            ]
        elif isinstance(our_type, (graphql.GraphQLObjectType, graphql.GraphQLInputObjectType)):
            errors += _field_errors(name, our_type.fields, real_type.fields)
    if ours.query_type.name != real.query_type.name:
        errors.append("the query root type has another name")
    return errors


def _field_errors(owner: str, ours: dict, real: dict) -> list[str]:
    errors = _same_types(owner, ours, real)
    errors += _required_present(owner, ours, real)
    for name, field in ours.items():
        if name in real and hasattr(field, "args"):
            errors += _same_types(f"{owner}.{name}", field.args, real[name].args)
            errors += _required_present(f"{owner}.{name}", field.args, real[name].args)
    return errors


def _same_types(owner: str, ours: dict, real: dict) -> list[str]:
    errors = []
    for name, item in ours.items():
        if name not in real:
            errors.append(f"{owner}.{name}: not in the real schema")
        elif str(item.type) != str(real[name].type):
            errors.append(f"{owner}.{name}: {item.type} here, {real[name].type} in the real schema")
    return errors


def _required_present(owner: str, ours: dict, real: dict) -> list[str]:
    """Arguments and input fields the real schema requires must not be left out here."""
    return [
        f"{owner}.{name}: required in the real schema but missing here"
        for name, item in real.items()
        if hasattr(item, "default_value")
        and graphql.is_non_null_type(item.type)
        and item.default_value is graphql.Undefined
        and name not in ours
    ]

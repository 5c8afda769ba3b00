"""Column hints for each model, read from the pinned stripe SDK's typed classes.

Stripe sends every date as an integer count of seconds, and the SDK annotates those fields as plain
`int`, the same as money amounts. What tells them apart is the attribute docstring the generated
SDK source carries ("Time at which the object was created. Measured in seconds since the Unix
epoch."), so timestamps are recognised from the annotation plus that docstring, never from a list
of field names kept by hand. Nested objects are followed into their SDK classes, so
`status_transitions.paid_at` becomes a timestamp column `status_transitions__paid_at` after dlt
flattens it.
"""

from __future__ import annotations

import ast
import inspect
import re
import typing
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Literal

import stripe
from dlt.common.schema.typing import TDataType, TTableSchemaColumns
from stripe._object_classes import get_object_class

from stripe_source.catalog import Model

_TIME_WORDS = re.compile(
    r"unix epoch|\btimestamp\b|\bdates?\b|^\s*(the )?time\b|\btime (at which|when|that)\b",
    re.IGNORECASE,
)
_TIME_SUFFIXES = ("_at", "_start", "_end", "_date")
_SCALAR_TYPES: dict[Any, TDataType] = {str: "text", int: "bigint", bool: "bool", float: "double"}
_NESTING_DEPTH = 3


def sdk_class(model: Model) -> type:
    return get_object_class("V1", model.object)


@lru_cache(maxsize=8)
def _module_tree(path: str) -> ast.Module:
    """A parsed SDK module. Kept only for the few classes read next (a model's nested classes
    live in its module): the trees of all of them would hold about 30 MB for the whole run."""
    return ast.parse(Path(path).read_text(encoding="utf-8"))


@cache
def _attribute_docstrings(cls: type) -> dict[str, str]:
    """Map attribute name to the docstring written right below it in the SDK source.

    Each SDK module is parsed once and nested classes (`Invoice.StatusTransitions`) are found by
    their qualified name: `inspect.getsource` per class would re-read the module every time.
    """
    try:
        path = inspect.getsourcefile(cls)
    except TypeError:
        return {}
    if path is None:
        return {}
    nodes: list[ast.stmt] = _module_tree(path).body
    class_def: ast.ClassDef | None = None
    for name in cls.__qualname__.split("."):
        class_def = next((n for n in nodes if isinstance(n, ast.ClassDef) and n.name == name), None)
        if class_def is None:
            return {}
        nodes = class_def.body

    docs: dict[str, str] = {}
    for statement, following in zip(nodes, nodes[1:], strict=False):
        if not isinstance(statement, ast.AnnAssign) or not isinstance(statement.target, ast.Name):
            continue
        if isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant):
            docs[statement.target.id] = str(following.value.value)
    return docs


@cache
def _hints(cls: type) -> dict[str, Any]:
    """Annotations along the class's MRO; the SDK's are evaluated objects, so no resolving."""
    hints: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        hints.update(getattr(klass, "__annotations__", {}))
    return hints


def _strip_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) is typing.Union:
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _is_nested_class(annotation: Any) -> bool:
    return (
        inspect.isclass(annotation)
        and issubclass(annotation, stripe.StripeObject)
        and not getattr(annotation, "OBJECT_NAME", None)
    )


def _scalar_type(annotation: Any) -> TDataType | None:
    """dlt type of a top-level scalar; an expandable reference (`str | Customer`) is its id."""
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return "text"
    if origin is typing.Union and str in typing.get_args(annotation):
        return "text"
    return _SCALAR_TYPES.get(annotation)


def _is_time(name: str, doc: str) -> bool:
    return name.endswith(_TIME_SUFFIXES) or name == "created" or bool(_TIME_WORDS.search(doc))


def _columns_of(cls: type, prefix: str, depth: int) -> TTableSchemaColumns:
    columns: TTableSchemaColumns = {}
    docs = _attribute_docstrings(cls)
    for name, annotation in _hints(cls).items():
        if name.startswith("_") or name.isupper():
            continue
        column = f"{prefix}{name}"
        annotation = _strip_optional(annotation)
        if annotation is int and _is_time(name, docs.get(name, "")):
            columns[column] = {"name": column, "data_type": "timestamp", "timezone": True}
        elif name == "metadata" or annotation is dict or typing.get_origin(annotation) is dict:
            columns[column] = {"name": column, "data_type": "json"}
        elif depth > 0 and _is_nested_class(annotation):
            columns.update(_columns_of(annotation, f"{column}__", depth - 1))
        elif not prefix and (scalar := _scalar_type(annotation)):
            # typed up front so a column that is null in every row still exists, with its type
            columns[column] = {"name": column, "data_type": scalar}
    return columns


@cache
def column_hints(model: Model) -> TTableSchemaColumns:
    """dlt column hints for a model: timestamps, JSON maps and the merge key columns."""
    columns = _columns_of(sdk_class(model), "", _NESTING_DEPTH)
    columns["id"] = {"name": "id", "data_type": "text", "nullable": False, "primary_key": True}
    columns["_account_id"] = {
        "name": "_account_id",
        "data_type": "text",
        "nullable": False,
        "primary_key": True,
    }
    return columns


def embedded_fields(model: Model) -> tuple[str, ...]:
    """Fields of the SDK class that hold a sub-list Stripe truncates at 10 items."""
    return tuple(
        name
        for name, annotation in _hints(sdk_class(model)).items()
        if "ListObject" in str(_strip_optional(annotation))
    )


def has_created_time(model: Model) -> bool:
    """Whether the model's objects carry their creation time, so new ones can be told apart."""
    return model.created_field in _hints(sdk_class(model))


def expandable_fields(model: Model) -> tuple[str, ...]:
    """Fields that hold an id unless expanded into the object (`customer` on an invoice): the
    SDK annotates them as the id or the object's class."""
    expandable = []
    for name, annotation in _hints(sdk_class(model)).items():
        variants = typing.get_args(annotation)
        if str in variants and any(isinstance(v, typing.ForwardRef) for v in variants):
            expandable.append(name)
    return tuple(expandable)

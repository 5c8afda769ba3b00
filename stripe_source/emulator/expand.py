"""`expand[]`: replace ids with the objects they name, and include sub-lists, as Stripe does.

Which fields may be expanded is read from the pinned SDK: a field annotated
`ExpandableField[...]` holds an id that Stripe replaces by the object on request, and a field
annotated `ListObject[...]` is a sub-list (some, like customer `tax_ids`, are only included when
asked for). The annotations are read from the SDK's source because `ExpandableField` is a plain
`Union[str, T]` alias that the runtime annotations no longer show. Each class is read once, on
first use, and cached.

Expansion builds new dicts and never touches the stored ones; an answer with no `expand[]` never
comes here, so the fast path stays a direct serialization of stored objects.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from stripe._object_classes import OBJECT_CLASSES
from stripe._stripe_object import StripeObject

# Stripe refuses paths deeper than four properties.
MAX_DEPTH = 4

Obj = dict[str, Any]
Tree = dict[str, "Tree"]
Kind = Literal["ref", "ref_list", "sub_list", "nested", "nested_list"]


class ExpandError(ValueError):
    """An `expand[]` path Stripe would refuse; the message is Stripe's."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path


@dataclass(frozen=True)
class Field:
    """How one field of an SDK class takes part in expansion.

    `ref` holds an id (or a list of ids for `ref_list`); `sub_list` is a `{"object": "list"}`;
    `nested` and `nested_list` are sub-objects whose own fields may be expanded (`a.b`).
    `targets` are the SDK classes the field may hold.
    """

    kind: Kind
    targets: tuple[type, ...] = ()


def parse_paths(paths: list[str], *, is_list: bool) -> Tree:
    """The `expand[]` paths as a tree; on a list every path must start with `data.`."""
    tree: Tree = {}
    for path in paths:
        parts = path.split(".")
        if is_list:
            if parts[0] != "data" or len(parts) < 2:
                raise ExpandError(f"This property cannot be expanded ({path}).", path)
            parts = parts[1:]
        if len(parts) > MAX_DEPTH or not all(parts):
            raise ExpandError(
                f"You cannot expand more than {MAX_DEPTH} levels of a property. Property: {path}",
                path,
            )
        node = tree
        for part in parts:
            node = node.setdefault(part, {})
    return tree


def class_of(obj: Obj) -> type | None:
    """The SDK class Stripe's `object` value names, as the SDK itself resolves it."""
    entry = OBJECT_CLASSES.get(obj.get("object", ""))
    if entry is None:
        return None
    module_name, class_name = entry
    return getattr(importlib.import_module(module_name), class_name)


@cache
def fields_of(cls: type) -> dict[str, Field]:
    """Fields of an SDK class that expansion can act on, read from its annotations."""
    node = _class_node(cls)
    if node is None:
        return {}
    found: dict[str, Field] = {}
    for statement in node.body:
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            field = _interpret(statement.annotation, cls)
            if field is not None:
                found[statement.target.id] = field
    return found


class Expander:
    """Applies an expansion tree to objects of one account.

    Args:
        resolve: the object an id names in the account (rendered as a retrieve would), or None.
        sub_list: the rendered sub-list `field` of `parent`, or None when the emulator has no
            children to fill it with.
    """

    def __init__(
        self,
        resolve: Callable[[str], Obj | None],
        sub_list: Callable[[Obj, str], Obj | None],
    ) -> None:
        self._resolve = resolve
        self._sub_list = sub_list

    def expand(self, obj: Obj, tree: Tree, prefix: str = "") -> Obj:
        cls = class_of(obj)
        if cls is None or not tree:
            return obj
        return self._object(obj, tree, cls, prefix)

    def _object(self, obj: Obj, tree: Tree, cls: type, prefix: str) -> Obj:
        fields = fields_of(cls)
        out = dict(obj)
        for name, subtree in tree.items():
            path = f"{prefix}{name}"
            field = fields.get(name)
            if field is None:
                raise ExpandError(f"This property cannot be expanded ({path}).", path)
            value = obj.get(name)
            if field.kind == "ref":
                out[name] = self._ref(value, subtree, path)
            elif field.kind == "ref_list":
                out[name] = None if value is None else [self._ref(v, subtree, path) for v in value]
            elif field.kind == "sub_list":
                out[name] = self._list(obj, name, value, subtree, path)
            elif not subtree:
                raise ExpandError(f"This property cannot be expanded ({path}).", path)
            elif field.kind == "nested":
                out[name] = self._nested(value, subtree, field, path)
            else:
                out[name] = (
                    None
                    if value is None
                    else [self._nested(v, subtree, field, path) for v in value]
                )
        return out

    def _ref(self, value: Any, subtree: Tree, path: str) -> Any:
        target = value
        if isinstance(value, str):
            target = self._resolve(value)
            if target is None:
                return value
        if isinstance(target, dict) and subtree and not target.get("deleted"):
            return self.expand(target, subtree, f"{path}.")
        return target

    def _list(self, parent: Obj, name: str, value: Any, subtree: Tree, path: str) -> Any:
        rendered = self._sub_list(parent, name)
        if rendered is None:
            rendered = value
        if rendered is None:
            raise ExpandError(f"This property cannot be expanded ({path}).", path)
        unknown = sorted(set(subtree) - {"data"})
        if unknown:
            bad = f"{path}.{unknown[0]}"
            raise ExpandError(f"This property cannot be expanded ({bad}).", bad)
        if "data" not in subtree or not subtree["data"]:
            return rendered
        items = [self.expand(item, subtree["data"], f"{path}.data.") for item in rendered["data"]]
        return {**rendered, "data": items}

    def _nested(self, value: Any, subtree: Tree, field: Field, path: str) -> Any:
        if not isinstance(value, dict):
            return value
        cls = class_of(value) if "object" in value else None
        cls = cls or (field.targets[0] if field.targets else None)
        if cls is None:
            raise ExpandError(f"This property cannot be expanded ({path}).", path)
        return self._object(value, subtree, cls, f"{path}.")


# reading the SDK's annotations


@cache
def _module_tree(module_name: str) -> ast.Module:
    return ast.parse(inspect.getsource(sys.modules[module_name]))


@cache
def _module_imports(module_name: str) -> dict[str, tuple[str, str]]:
    """Names a module imports (including under TYPE_CHECKING): name -> (module, attribute)."""
    imports: dict[str, tuple[str, str]] = {}
    for node in ast.walk(_module_tree(module_name)):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                imports[alias.asname or alias.name] = (node.module, alias.name)
    return imports


def _class_node(cls: type) -> ast.ClassDef | None:
    body: list[ast.stmt] = _module_tree(cls.__module__).body
    found: ast.ClassDef | None = None
    for part in cls.__qualname__.split("."):
        found = next(
            (n for n in body if isinstance(n, ast.ClassDef) and n.name == part),
            None,
        )
        if found is None:
            return None
        body = found.body
    return found


def _resolve_name(name: str, cls: type) -> type | None:
    """The class a name in `cls`'s annotations refers to: a nested class, a module global or
    an import (the SDK imports most referenced resources under TYPE_CHECKING only)."""
    head, _, rest = name.partition(".")
    found: Any = None
    scopes = [cls]
    outer_names = cls.__qualname__.split(".")[:-1]
    module = sys.modules[cls.__module__]
    for depth in range(len(outer_names), 0, -1):
        outer: Any = module
        for part in outer_names[:depth]:
            outer = getattr(outer, part)
        scopes.append(outer)
    for scope in scopes:
        candidate = scope.__dict__.get(head)
        if isinstance(candidate, type):
            found = candidate
            break
    if found is None:
        found = getattr(module, head, None)
    if found is None and head in _module_imports(cls.__module__):
        source_module, attribute = _module_imports(cls.__module__)[head]
        found = getattr(importlib.import_module(source_module), attribute, None)
    for part in rest.split(".") if rest else ():
        found = getattr(found, part, None)
    if isinstance(found, type) and issubclass(found, StripeObject):
        return found
    return None


def _classes(node: ast.expr, cls: type) -> tuple[type, ...]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return _classes(ast.parse(node.value, mode="eval").body, cls)
    if isinstance(node, ast.Subscript) and _head(node) == "Union":
        return tuple(c for arg in _args(node) for c in _classes(arg, cls))
    if isinstance(node, ast.Name | ast.Attribute):
        found = _resolve_name(ast.unparse(node), cls)
        return (found,) if found is not None else ()
    return ()


def _head(node: ast.Subscript) -> str:
    return ast.unparse(node.value).rpartition(".")[2]


def _args(node: ast.Subscript) -> list[ast.expr]:
    return list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]


def _interpret(node: ast.expr, cls: type) -> Field | None:
    if isinstance(node, ast.Subscript):
        head, args = _head(node), _args(node)
        if head == "Optional":
            return _interpret(args[0], cls)
        if head == "ExpandableField":
            return Field("ref", _classes(args[0], cls))
        if head == "ListObject":
            return Field("sub_list", _classes(args[0], cls))
        if head == "List":
            inner = _interpret(args[0], cls)
            if inner is not None and inner.kind in ("ref", "nested"):
                kind: Kind = "ref_list" if inner.kind == "ref" else "nested_list"
                return Field(kind, inner.targets)
            return None
        if head == "Union":
            for arg in args:
                field = _interpret(arg, cls)
                if field is not None:
                    return field
        return None
    targets = _classes(node, cls)
    return Field("nested", targets) if targets else None

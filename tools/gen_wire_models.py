#!/usr/bin/env python3
"""Generate ``batchite.wire.models`` and ``batchite.wire.enums`` from the azure-batch SDK source.

The SDK's ``azure/batch/models/_models.py`` and ``_enums.py`` are read with :mod:`ast` only;
nothing from the SDK is imported, so the generator works with any Python that can see the
installed package directory. Only facts are carried over (class names, attribute names, wire
names, types, enum values); none of the SDK's code or documentation is copied.

Usage::

    python tools/gen_wire_models.py                      # locate azure.batch via importlib
    python tools/gen_wire_models.py --sdk-models DIR     # DIR = .../site-packages/azure/batch/models
    python tools/gen_wire_models.py --check              # exit 1 if the checked-in files are stale

Type mapping (SDK annotation -> generated annotation):

* ``str``/``int``/``float``/``bool`` -> the same builtin; ``int`` with ``format="str"`` (int64
  the service encodes as a JSON string) -> ``Int64String`` (an int that serialises as a string).
* ``datetime.datetime`` (``format="rfc3339"``) -> ``WireDatetime`` (RFC 3339, ``Z`` suffix).
* ``datetime.timedelta`` -> ``WireTimedelta`` (ISO 8601 duration such as ``PT1H`` / ``P1DT2H``).
* ``list[X]`` -> ``list[X]``; ``dict[K, V]`` -> ``dict[K, V]``.
* ``"_models.Foo"`` (a model) -> ``Foo``; ``Union[str, "_models.Bar"]`` / ``"_models._enums.Bar"``
  (an extensible enum) -> ``Bar``, an ``Annotated[str, AfterValidator]`` that accepts the value
  case-insensitively and returns the SDK's canonical spelling.
* ``Optional[X]`` -> ``X | None`` with default ``None``; anything not Optional is required.

Falls back to ``Any`` (and reports on stderr, and marks the field with a comment in the output):

* a ``Union`` that is not exactly ``Union[str, <enum>]`` (e.g. ``Union[str, int]``, a union of
  two models, or a ``Union[str, X]`` where X is not an SDK enum);
* a string forward reference that names neither a model nor an enum of the SDK;
* a ``datetime.datetime`` with a ``format=`` other than ``rfc3339`` (``rfc7231``, ``unix-timestamp``);
* any other annotation shape (``Literal``, ``Mapping``, ``tuple``, bare ``list``/``dict``, ...).

For azure-batch 15.1.0 none of these occur: every field maps to a concrete type.
"""

from __future__ import annotations

import argparse
import ast
import importlib.metadata
import importlib.util
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "src" / "batchite" / "wire"
LINE_LENGTH = 120  # as ruff format lays out the project (pyproject.toml)
INDENT = "    "

SCALARS = {"str": "str", "int": "int", "float": "float", "bool": "bool"}


# --------------------------------------------------------------------------- SDK parsing


@dataclass
class SdkEnum:
    name: str
    members: list[tuple[str, str]]  # (member name, value)

    @property
    def values(self) -> list[str]:
        return [value for _, value in self.members]


@dataclass
class SdkField:
    attr: str
    wire: str
    annotation: ast.expr
    fmt: str | None


@dataclass
class SdkModel:
    name: str
    fields: list[SdkField]


@dataclass
class Mapped:
    type_src: str
    required: bool
    any_reason: str | None = None


@dataclass
class Catalogue:
    version: str
    enums: list[SdkEnum]
    models: list[SdkModel]
    any_fields: list[str] = field(default_factory=list)


def locate_sdk_models() -> Path:
    spec = importlib.util.find_spec("azure.batch")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("azure-batch is not installed here; pass --sdk-models DIR")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def sdk_version(models_dir: Path) -> str:
    version_file = models_dir.parent / "_version.py"
    if version_file.is_file():
        for node in ast.parse(version_file.read_text(encoding="utf-8")).body:
            if (
                isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "VERSION" for t in node.targets)
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
            ):
                return node.value.value
    return importlib.metadata.version("azure-batch")


def parse_enums(path: Path) -> list[SdkEnum]:
    enums: list[SdkEnum] = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if not isinstance(node, ast.ClassDef):
            continue
        members = [
            (stmt.targets[0].id, stmt.value.value)
            for stmt in node.body
            if isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
            and isinstance(stmt.value, ast.Constant)
            and isinstance(stmt.value.value, str)
        ]
        if members:
            enums.append(SdkEnum(node.name, members))
    return enums


def _is_rest_field(call: ast.expr | None) -> bool:
    if not isinstance(call, ast.Call):
        return False
    func = call.func
    return (isinstance(func, ast.Name) and func.id == "rest_field") or (
        isinstance(func, ast.Attribute) and func.attr == "rest_field"
    )


def parse_models(path: Path) -> list[SdkModel]:
    models: list[SdkModel] = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if not isinstance(node, ast.ClassDef):
            continue
        fields: list[SdkField] = []
        for stmt in node.body:
            if not (
                isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and _is_rest_field(stmt.value)
            ):
                continue
            assert isinstance(stmt.value, ast.Call)
            kwargs: dict[str, str] = {
                kw.arg: kw.value.value
                for kw in stmt.value.keywords
                if kw.arg is not None and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str)
            }
            attr = stmt.target.id
            fields.append(SdkField(attr, kwargs.get("name", attr), stmt.annotation, kwargs.get("format")))
        if fields:
            models.append(SdkModel(node.name, fields))
    return models


# --------------------------------------------------------------------------- type mapping


class TypeMapper:
    def __init__(self, model_names: set[str], enum_names: set[str]) -> None:
        self.model_names = model_names
        self.enum_names = enum_names

    def map_field(self, f: SdkField) -> Mapped:
        self._any_reason: str | None = None
        ann = f.annotation
        if isinstance(ann, ast.Constant) and isinstance(ann.value, str):
            ann = ast.parse(ann.value, mode="eval").body
        inner = self._strip_optional(ann)
        required = inner is None
        type_src = self._map(ann if inner is None else inner, f.fmt)
        return Mapped(type_src, required, self._any_reason)

    @staticmethod
    def _strip_optional(node: ast.expr) -> ast.expr | None:
        """Return X for ``Optional[X]`` / ``Union[X, None]``, else None."""
        if not isinstance(node, ast.Subscript) or not isinstance(node.value, ast.Name):
            return None
        if node.value.id == "Optional":
            return node.slice
        if node.value.id == "Union" and isinstance(node.slice, ast.Tuple):
            elts = [e for e in node.slice.elts if not (isinstance(e, ast.Constant) and e.value is None)]
            if len(elts) < len(node.slice.elts):
                return elts[0] if len(elts) == 1 else ast.Subscript(node.value, ast.Tuple(elts), node.ctx)
        return None

    def _any(self, node: ast.expr, why: str) -> str:
        self._any_reason = f"{why}: {ast.unparse(node)}"
        return "Any"

    def _ref(self, node: ast.expr) -> str | None:
        """The class name of a ``"_models.X"`` / ``"_models._enums.X"`` reference, else None."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            node = ast.parse(node.value, mode="eval").body
        if isinstance(node, ast.Attribute):
            return node.attr
        if isinstance(node, ast.Name) and node.id not in SCALARS:
            return node.id
        return None

    def _map(self, node: ast.expr, fmt: str | None) -> str:
        if isinstance(node, ast.Name) and node.id in SCALARS:
            if node.id == "int" and fmt == "str":
                return "Int64String"
            if node.id == "int":
                return "Int64"
            return SCALARS[node.id]
        if isinstance(node, ast.Attribute) and ast.unparse(node) == "datetime.datetime":
            if fmt not in (None, "rfc3339"):
                return self._any(node, f"datetime with format={fmt!r}")
            return "datetime"
        if isinstance(node, ast.Attribute) and ast.unparse(node) == "datetime.timedelta":
            return "Duration"
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            head, args = node.value.id, node.slice
            if head == "list":
                return f"list[{self._map(args, fmt)}]"
            if head == "dict" and isinstance(args, ast.Tuple) and len(args.elts) == 2:
                return f"dict[{self._map(args.elts[0], fmt)}, {self._map(args.elts[1], fmt)}]"
            if head == "Optional":
                return f"{self._map(args, fmt)} | None"
            if head == "Union" and isinstance(args, ast.Tuple):
                elts = args.elts
                if len(elts) == 2 and isinstance(elts[0], ast.Name) and elts[0].id == "str":
                    ref = self._ref(elts[1])
                    if ref is not None and ref in self.enum_names:
                        return ref
                return self._any(node, "union other than Union[str, <enum>]")
        # A forward reference: "_models.Foo", "_models._enums.Bar" (strings already parsed or not).
        is_str = isinstance(node, ast.Constant) and isinstance(node.value, str)
        if is_str or isinstance(node, ast.Attribute | ast.Name):
            ref = self._ref(node)
            if ref is not None and (ref in self.model_names or ref in self.enum_names):
                return ref
            return self._any(node, "reference to an unknown class")
        return self._any(node, "unsupported annotation")


# --------------------------------------------------------------------------- emitting


def upper_snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z]{2})(?=[A-Z][a-z])", "_", name).upper()


def bracketed(prefix: str, items: list[str], close: str, indent: str = "", always_split: bool = False) -> str:
    """Lay out ``prefix item, item close`` the way ``ruff format`` would at LINE_LENGTH."""
    one_line = f"{indent}{prefix}{', '.join(items)}{close}"
    if not always_split and len(one_line) <= LINE_LENGTH:
        return one_line
    hanging = f"{indent}{INDENT}{', '.join(items)}"
    if not always_split and len(hanging) <= LINE_LENGTH:
        return f"{indent}{prefix}\n{hanging}\n{indent}{close}"
    body = "".join(f"{indent}{INDENT}{item},\n" for item in items)
    return f"{indent}{prefix}\n{body}{indent}{close}"


def header(version: str) -> str:
    return f"# Generated by tools/gen_wire_models.py from azure-batch {version} — do not edit.\n"


def render_enums(cat: Catalogue) -> str:
    out = [
        header(cat.version),
        '"""The Azure Batch wire enums, spelled as the service and SDK spell them (matched in any case)."""\n',
        "\nfrom batchite.wire.types import WireEnum\n",
    ]
    for enum in cat.enums:
        out.append(f"\n\nclass {enum.name}(WireEnum):\n")
        for member, value in enum.members:
            out.append(f"{INDENT}{member} = {json.dumps(value)}\n")
    entries = [f"{json.dumps(enum.name)}: {enum.name}" for enum in cat.enums]
    out.append("\n\n" + bracketed("ENUMS: dict[str, type[WireEnum]] = {", entries, "}", always_split=True))
    out.append("\n")
    return "".join(out)


MODELS_PRELUDE = """\
\"\"\"msgspec models of the Azure Batch data-plane wire format (JSON bodies, camelCase wire names).

Attributes have the SDK's snake_case names; the wire name is given where it is not the camelCase
of the attribute. Unknown keys are ignored and None fields left out. Decoded with strict=False
(request bodies), numbers written as strings such as ``"targetDedicatedNodes": "1"`` are accepted.
Required ``url``, ``eTag`` and ``lastModified`` fields default to empty: the service fills them when
it stores or renders an entity.
\"\"\"

from __future__ import annotations

from datetime import datetime
{typing_any}
import msgspec

{enum_import}
from batchite.wire.types import Duration, Int64, Int64String, WireStruct
"""

FILLED_BY_SERVICE = {"url": '""', "eTag": '""', "lastModified": "None"}
# Required in the SDK's typing, absent from the service's answers where they do not apply.
ABSENT_WHEN_NOT_APPLICABLE = {("BatchNode", "ipv6Address")}  # nodes of IPv4-only pools


def camel(attr: str) -> str:
    head, *rest = attr.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def render_models(cat: Catalogue, mapper: TypeMapper) -> str:
    out: list[str] = [header(cat.version), MODELS_PRELUDE]
    any_used = False
    for model in cat.models:
        out.append(f"\n\nclass {model.name}(WireStruct, kw_only=True):\n")
        for f in model.fields:
            m = mapper.map_field(f)
            if m.any_reason:
                any_used = True
                cat.any_fields.append(f"{model.name}.{f.attr}: {m.any_reason}")
                out.append(f"{INDENT}# Not mapped ({m.any_reason}).\n")
            args = [] if camel(f.attr) == f.wire else [f'name="{f.wire}"']
            type_src = m.type_src
            default: str | None = None
            if not m.required or (model.name, f.wire) in ABSENT_WHEN_NOT_APPLICABLE:
                type_src, default = f"{type_src} | None", "None"
            elif f.wire in FILLED_BY_SERVICE:
                default = FILLED_BY_SERVICE[f.wire]
                if default == "None":
                    type_src = f"{type_src} | None"
            if args:
                if default is not None:
                    args.insert(0, f"default={default}")
                out.append(bracketed(f"{f.attr}: {type_src} = msgspec.field(", args, ")", INDENT))
            elif default is not None:
                out.append(f"{INDENT}{f.attr}: {type_src} = {default}")
            else:
                out.append(f"{INDENT}{f.attr}: {type_src}")
            out.append("\n")
    out.append("\n\n")
    out.append(
        bracketed(
            "ALL_MODELS: tuple[type[WireStruct], ...] = (",
            [m.name for m in cat.models],
            ")",
            always_split=True,
        )
    )
    out.append("\n")
    text = "".join(out).replace("{typing_any}", "from typing import Any\n" if any_used else "", 1)
    used = sorted(
        (e.name for e in cat.enums if re.search(rf"\b{e.name}\b", text.split("import Duration", 1)[1])), key=str.lower
    )
    return text.replace("{enum_import}", bracketed("from batchite.wire.enums import (", used, ")"), 1)


def build(models_dir: Path) -> tuple[Catalogue, dict[str, str]]:
    cat = Catalogue(
        version=sdk_version(models_dir),
        enums=parse_enums(models_dir / "_enums.py"),
        models=parse_models(models_dir / "_models.py"),
    )
    model_names = {m.name for m in cat.models}
    enum_names = {e.name for e in cat.enums}
    clash = model_names & enum_names
    reserved = {"WireStruct", "WireEnum", "Duration", "Int64", "Int64String", "ALL_MODELS", "ENUMS"}
    if clash or (model_names | enum_names) & reserved:
        raise SystemExit(f"name clash between SDK models/enums/helpers: {sorted(clash or reserved)}")
    mapper = TypeMapper(model_names, enum_names)
    files = {
        "enums.py": render_enums(cat),
        "models.py": render_models(cat, mapper),
    }
    return cat, files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sdk-models", type=Path, help="path of the installed azure/batch/models package")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output package directory")
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if outputs differ")
    args = parser.parse_args(argv)

    models_dir: Path = args.sdk_models or locate_sdk_models()
    cat, files = build(models_dir)
    stale = []
    for name, text in files.items():
        target: Path = args.out / name
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current == text:
            continue
        stale.append(str(target))
        if not args.check:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    for item in cat.any_fields:
        print(f"warning: mapped to Any: {item}", file=sys.stderr)
    print(
        f"azure-batch {cat.version}: {len(cat.models)} models, {len(cat.enums)} enums, "
        f"{sum(len(m.fields) for m in cat.models)} fields, {len(cat.any_fields)} mapped to Any",
        file=sys.stderr,
    )
    if args.check and stale:
        print("stale: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

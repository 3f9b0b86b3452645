"""Inspecting a ``torch.export`` archive (``.pt2``) before torch loads it: nothing in it may run code.

``torch.export.load`` is not written for untrusted files. Besides unpickling (sample
inputs retried with ``weights_only=False``, ``use_pickle`` weights and constants,
``pickle.loads`` of opaque constants), it hands strings from the archive to code that
runs them: shape expressions go through ``sympy.sympify`` (``eval``), ``guards_code``
and the input names become Python source that is ``exec``-ed when the program is
turned into a module, node targets are looked up as attributes of ``torch``/``math``/
``operator`` (``torch.os.system`` is one), and AOTInductor entries load shared
libraries. :func:`check_export_archive` allows only what it can vouch for, for the
torch versions in :data:`REVIEWED_TORCH`:

- the entries of a current ``pt2`` archive (no legacy layout, no AOTInductor,
  ExecuTorch or MTIA payloads);
- weights and constants stored as raw tensors (no pickled ones, no script or opaque
  objects), and sample inputs that load with ``torch.load(weights_only=True)``;
- node targets that resolve to registered operators (``torch.ops.<ns>.<op>``; not the
  methods ``torch.ops.load_library``/``import_module``), a few pure ``operator``/``math``/
  ``torch.sym_*`` functions, or registered extension operators;
- shape expressions and guards built only from numbers, symbols, arithmetic and a
  known set of sympy/torch functions; input names that are Python identifiers.

Anything else is refused with :class:`~ibviewer.errors.UnsafeCheckpointError` unless the
user trusts the file (``--trust-pickle``). The bytes inspected are the bytes loaded.
"""

from __future__ import annotations

import ast
import io
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ibviewer.core.safe_read import ZIP_ERRORS, check_declared
from ibviewer.errors import CheckpointLoadError, UnsafeCheckpointError

__all__ = ["REVIEWED_TORCH", "check_export_archive"]

#: torch versions (major.minor) whose ``torch.export.load`` this inspection was written against.
REVIEWED_TORCH = ("2.13",)

_ALLOWED_ENTRY = re.compile(
    r"^(archive_format|archive_version|byteorder|version|\.data/.*|models/[^/]+\.json|extra/.*"
    r"|data/weights/[^/]+|data/constants/[^/]+|data/sample_inputs/[^/]+\.pt)$"
)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_OPS_TARGET = re.compile(r"^torch\.ops\.[A-Za-z_]\w*\.[A-Za-z_]\w*(\.[A-Za-z_]\w*)?$")
_TARGET = re.compile(
    r"^(_operator\.(getitem|add|sub|mul|truediv|floordiv|mod|pow|neg|pos|abs|eq|ne|lt|le|gt|ge|and_|or_|xor|not_|invert"
    r"|lshift|rshift|matmul)"
    r"|math\.(ceil|floor|trunc|sqrt|exp|log|log2|log10|sin|cos|tan|tanh|isnan|isinf|isfinite|fabs|pow)"
    r"|torch\.(sym_float|sym_int|sym_max|sym_min|sym_not|sym_ite|sym_sqrt|sym_sum|_sym_sqrt|_assert|_check|_check_is_size)"
    r"|#[A-Za-z_]\w*:[\w.]+)$"
)
_SYMPY_CALLS = frozenset(
    "Symbol Integer Rational Float Add Mul Pow Mod Max Min Abs Eq Ne Lt Le Gt Ge StrictLessThan StrictGreaterThan "
    "LessThan GreaterThan Equality Unequality And Or Not Piecewise ExprCondPair floor ceiling BitwiseFn_bitwise_and "
    "BitwiseFn_bitwise_or BitwiseFn_bitwise_xor CeilDiv CeilToInt CleanDiv FloatPow FloatTrueDiv FloorDiv FloorToInt "
    "Identity IntTrueDiv IsNonOverlappingAndDenseIndicator LShift ModularIndexing PowByNatural PythonMod RShift "
    "RoundDecimal RoundToInt ToFloat TruncToFloat TruncToInt Where".split()
)
_SYMPY_NAMES = frozenset({"oo", "zoo", "nan", "true", "false", "True", "False"})
_GUARD_CALLS = frozenset({"IsNonOverlappingAndDenseIndicator"})
_GUARD_METHODS = frozenset({"size", "stride", "storage_offset", "dim", "numel"})
_MATH_ATTRS = frozenset({"inf", "nan", "isnan", "isinf", "isfinite", "floor", "ceil", "trunc", "sqrt"})
_SPEC_TYPES = frozenset({None, "builtins.tuple", "builtins.list", "builtins.dict", "collections.OrderedDict"})
_OPERATORS = (ast.operator, ast.unaryop, ast.cmpop, ast.boolop, ast.expr_context)


class _Refused(Exception):
    """What in the archive could run code (becomes the refusal's reason)."""


def check_export_archive(data: bytes, name: str) -> None:
    """Refuse a ``.pt2`` archive that loading could make run code.

    Parameters
    ----------
    data : bytes
        The archive (the same bytes that are then loaded).
    name : str
        The file's name, for messages.

    Raises
    ------
    UnsafeCheckpointError
        The archive holds pickled objects, native code, or strings torch would run as code.
    CheckpointLoadError
        Not a readable ``.pt2`` archive.
    """
    import torch

    version = ".".join(torch.__version__.split(".")[:2])
    try:
        if version not in REVIEWED_TORCH:
            raise _Refused(
                f"this ibviewer checked .pt2 loading only with torch {', '.join(REVIEWED_TORCH)} and torch {version} "
                "may run code from the file while loading it"
            )
        _check(data, name)
    except _Refused as why:
        raise UnsafeCheckpointError(
            name,
            f"{name} was refused: {why}, and a program from a file must not run code when it is opened.",
            "Re-export it with torch.export.save() from plain tensors,",
        ) from None


def _check(data: bytes, name: str) -> None:
    import torch

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            records = _records(archive, name)
            if records.get("archive_format") != b"pt2":
                raise _Refused("it is not a current torch.export archive (older ones hold pickles)")
            models = [key[len("models/") : -len(".json")] for key in records if key.startswith("models/")]
            if not models:
                raise CheckpointLoadError(f"{name} holds no exported program (no models/*.json). Write it with torch.export.save().")
            for model in models:
                _check_payloads(records, model)
                inputs = records.get(f"data/sample_inputs/{model}.pt", b"")
                if inputs:
                    try:
                        torch.load(io.BytesIO(inputs), weights_only=True)
                    except Exception as exc:  # anything but plain tensors: the loader would retry with pickle
                        raise _Refused(f"its sample inputs need unpickling ({_first_line(exc)})") from None
                _check_program(_json(records[f"models/{model}.json"], name))
    except (OSError, *ZIP_ERRORS) as exc:
        raise CheckpointLoadError(
            f"Could not load {name} as a torch.export program: it is not a readable .pt2 archive ({_first_line(exc)}). "
            "Write it with torch.export.save()."
        ) from exc


def _records(archive: zipfile.ZipFile, name: str) -> dict[str, bytes]:
    """Entry name (without the archive's root folder) -> bytes of the entries inspected (configs, programs,
    sample inputs); refuses entries outside the known layout and archives declaring more than the memory limit."""
    check_declared(sum(info.file_size for info in archive.infolist()), Path(name), CheckpointLoadError)
    records = {}
    for info in archive.infolist():
        root, _, entry = info.filename.partition("/")
        if info.is_dir():
            continue
        if not root or not entry:
            raise _Refused(f"it holds {info.filename!r} outside the archive's folder (the legacy layout loads with pickle)")
        if entry.startswith(("data/weights/", "data/constants/")) and entry.endswith(".pt"):
            raise _Refused(f"it holds {entry}, weights in the legacy pickled layout")
        if not _ALLOWED_ENTRY.match(entry):
            raise _Refused(f"it holds {entry}, which torch would load as native code or pickle")
        if entry == "archive_format" or entry.endswith(".json") or entry.startswith("data/sample_inputs/"):
            records[entry] = archive.read(info)
    return records


def _check_payloads(records: dict[str, bytes], model: str) -> None:
    for kind in ("weights", "constants"):
        config = records.get(f"data/{kind}/{model}_{kind}_config.json")
        if config is None:
            continue
        entries = _json(config, model).get("config", {})
        if not isinstance(entries, dict):
            raise _Refused(f"its {kind} configuration is malformed")
        for fqn, meta in entries.items():
            if not isinstance(meta, dict) or meta.get("use_pickle") is not False:
                raise _Refused(f"its {kind[:-1]} {fqn!r} is stored as a pickle")
            path = meta.get("path_name")
            if kind == "constants" and not (isinstance(path, str) and path.startswith("tensor_")):
                raise _Refused(f"its constant {fqn!r} is a script or opaque object ({path!r}), loaded by unpickling")


def _check_program(program: Any) -> None:
    if not isinstance(program, dict):
        raise _Refused("its program is not a JSON object")
    graph = program.get("graph_module", {}).get("graph", {}) if isinstance(program.get("graph_module"), dict) else {}
    for item in graph.get("inputs", []) if isinstance(graph, dict) else []:
        if not isinstance(item, dict) or "as_string" in item:
            raise _Refused("it takes text inputs, which torch writes into generated code")
    for key, value in _walk(program):
        if key in ("target", "as_operator") and isinstance(value, str) and not _allowed_target(value):
            raise _Refused(f"it calls the Python function {value!r}, which ibviewer does not run from files")
        if key == "expr_str":
            _check_expression(value, sympy=True)
        if key == "guards_code":
            for guard in value if isinstance(value, list) else [value]:
                _check_expression(guard, sympy=False)
        if key == "forward_arg_names":
            if not isinstance(value, list) or not all(isinstance(v, str) and _IDENTIFIER.match(v) for v in value):
                raise _Refused(f"its input names {value!r} are not Python identifiers")
        if key in ("in_spec", "out_spec") and value is not None:
            _check_treespec(value)
        if key == "treespec_namedtuple_fields" and value:
            raise _Refused("its inputs or outputs are named tuples, which torch rebuilds from names in the file")


def _allowed_target(target: str) -> bool:
    """A registered operator (resolved as torch will resolve it), or one of a few pure functions.

    ``torch.ops`` also has methods (``load_library``, ``import_module``) and every object has
    dunder attributes, all reachable by name: only what resolves to an operator object passes.
    """
    if _TARGET.match(target):
        return True
    if not _OPS_TARGET.match(target):
        return False
    import torch
    from torch._ops import HigherOrderOperator, OpOverload, OpOverloadPacket

    parts = target.split(".")[2:]
    if any(part.startswith("__") for part in parts) or hasattr(type(torch.ops), parts[0]):
        return False
    found: Any = torch.ops
    for part in parts:
        try:
            found = getattr(found, part)
        except Exception:  # noqa: BLE001 -- an operator this torch does not have: refused like any unknown name
            return False
    return isinstance(found, (OpOverload, OpOverloadPacket, HigherOrderOperator))


def _walk(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    stack = [(key, value)]
    while stack:
        key, value = stack.pop()
        yield key, value
        if isinstance(value, dict):
            stack.extend((str(k), v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend(("", v) for v in value)


def _check_expression(text: Any, *, sympy: bool) -> None:
    """A shape expression (``sympy=True``, for sympify) or a guard (Python, for exec): only arithmetic on known names."""
    if not isinstance(text, str) or len(text) > 10_000:
        raise _Refused("it holds a malformed shape expression")
    try:
        tree = ast.parse(text, mode="eval")
        nodes = list(ast.walk(tree))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise _Refused(f"it holds the expression {text[:80]!r}, which is not arithmetic") from None
    texts = {id(text) for node in nodes for text in _allowed_texts(node, sympy)}
    for node in nodes:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            allowed = id(node) in texts
        else:
            allowed = _allowed_node(node, sympy)
        if not allowed:
            raise _Refused(f"it holds the expression {text[:80]!r}, which torch would run as code")


def _allowed_texts(node: ast.AST, sympy: bool) -> list[ast.Constant]:
    """The text constants of ``node`` that may stay text: a symbol's name, or a key of the inputs ``L['x']``.

    Any other text would be sympified (``eval``) by sympy functions, or end up inside generated source.
    """
    if sympy and isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Symbol" and node.args:
        first = node.args[0]
    elif not sympy and isinstance(node, ast.Subscript):
        first = node.slice
    else:
        return []
    ok = isinstance(first, ast.Constant) and isinstance(first.value, str) and _IDENTIFIER.match(first.value)
    return [first] if ok else []  # type: ignore[list-item]


def _allowed_node(node: ast.AST, sympy: bool) -> bool:
    if isinstance(node, (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Compare, ast.BoolOp, *_OPERATORS)):
        return True
    if isinstance(node, ast.Constant):
        return node.value is None or isinstance(node.value, (bool, int, float))
    if isinstance(node, ast.keyword):
        return sympy and isinstance(node.value, ast.Constant) and isinstance(node.value.value, (bool, int, type(None)))
    if isinstance(node, ast.Name):
        if sympy:
            return node.id in _SYMPY_CALLS or node.id in _SYMPY_NAMES or bool(re.match(r"^[a-z]{1,4}\d+$", node.id))
        return node.id in ("L", "math", "inf") or node.id in _GUARD_CALLS
    if isinstance(node, ast.Call):
        if sympy:
            return isinstance(node.func, ast.Name) and node.func.id in _SYMPY_CALLS
        if node.keywords:
            return False
        return isinstance(node.func, ast.Attribute) or (isinstance(node.func, ast.Name) and node.func.id in _GUARD_CALLS)
    if isinstance(node, ast.Attribute) and not sympy:
        if isinstance(node.value, ast.Name) and node.value.id == "math":
            return node.attr in _MATH_ATTRS
        return node.attr in _GUARD_METHODS
    return isinstance(node, ast.Subscript) and not sympy


def _check_treespec(text: Any) -> None:
    spec = _json(text.encode() if isinstance(text, str) else b"null", "spec")
    for key, value in _walk(spec):
        if key == "type" and value not in _SPEC_TYPES:
            raise _Refused(f"its inputs are of type {value!r}, which torch rebuilds by name")
        if key == "context" and value not in (None, "null"):
            context = _json(value.encode() if isinstance(value, str) else b"null", "spec")
            names = context if isinstance(context, list) else [context]
            if not all(name is None or isinstance(name, int) or (isinstance(name, str) and _IDENTIFIER.match(name)) for name in names):
                raise _Refused(f"its input names {context!r} are not Python identifiers")


def _json(data: bytes, name: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise CheckpointLoadError(f"{name}: a record of the .pt2 archive is not valid JSON ({_first_line(exc)}).") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__

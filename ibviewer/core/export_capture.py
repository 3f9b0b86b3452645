"""Capturing the module outputs of a ``torch.export`` program (``.pt2``) by interpreting its graph.

Each call_function node carries ``nn_module_stack`` metadata; the output of a module (leaf
or container) is the last node computed inside it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from ibviewer.core.activations import Sink

__all__ = ["ExportCapture"]


class ExportCapture:
    """Captures the values of a ``torch.export`` program that correspond to its original modules.

    Programs exported with a fixed batch size are run in chunks of that size (the last
    chunk padded).
    """

    def __init__(self, program: Any) -> None:
        import torch.fx

        self.graph_module = program.module()
        self.module_types: dict[str, str] = {}
        last_node: dict[str, Any] = {}
        for node in self.graph_module.graph.nodes:
            stack = node.meta.get("nn_module_stack")
            if node.op != "call_function" or not stack:
                continue
            for path, module_type in stack.values():
                if not path:
                    continue
                type_name = module_type if isinstance(module_type, str) else getattr(module_type, "__name__", "")
                self.module_types[path] = type_name.rsplit(".", 1)[-1]
                last_node[path] = node
        self.node_to_layers: dict[Any, list[str]] = {}
        for path, node in last_node.items():
            self.node_to_layers.setdefault(node, []).append(path)
        placeholders = [n for n in self.graph_module.graph.nodes if n.op == "placeholder"]
        value = placeholders[0].meta.get("val") if placeholders else None
        self.fixed_batch: int | None = None
        self.input_shape: tuple[int, ...] | None = None
        if value is not None and hasattr(value, "shape") and len(value.shape) > 0:
            self.input_shape = tuple(int(s) if isinstance(s, int) else -1 for s in value.shape[1:])
            first = value.shape[0]
            self.fixed_batch = int(first) if isinstance(first, int) else None
        capture = self

        class _Interpreter(torch.fx.Interpreter):
            sink: Sink | None = None

            def run_node(self, node):  # noqa: ANN001, ANN202
                result = super().run_node(node)
                if self.sink is not None:
                    for path in capture.node_to_layers.get(node, ()):
                        self.sink(path, capture.module_types[path], result)
                return result

        self._interpreter = _Interpreter(self.graph_module)

    def run(self, inputs: torch.Tensor, sink: Sink, attention_mask: torch.Tensor | None = None) -> Any:
        """Run ``inputs`` through the graph; the program's signature is fixed, so ``attention_mask`` only pools."""
        import torch

        if self.fixed_batch is None or inputs.shape[0] == self.fixed_batch:
            return self._run_once(inputs, sink)
        outputs = []
        pieces: dict[str, tuple[str, list[Any]]] = {}
        size = self.fixed_batch

        def collect(name: str, module_type: str, value: Any) -> None:
            pieces.setdefault(name, (module_type, []))[1].append(value)

        for start in range(0, inputs.shape[0], size):
            chunk = inputs[start : start + size]
            n_real = chunk.shape[0]
            if n_real < size:
                pad = chunk[-1:].expand(size - n_real, *chunk.shape[1:])
                chunk = torch.cat([chunk, pad])
            before = {name: len(parts) for name, (_, parts) in pieces.items()}
            outputs.append(self._run_once(chunk, collect)[:n_real])
            for name, (_, parts) in pieces.items():
                for j in range(before.get(name, 0), len(parts)):
                    parts[j] = _first_rows(parts[j], n_real)
        for name, (module_type, parts) in pieces.items():
            sink(name, module_type, _concat(parts))
        return torch.cat(outputs)

    def _run_once(self, inputs: torch.Tensor, sink: Sink) -> Any:
        self._interpreter.sink = sink
        try:
            return self._interpreter.run(inputs)
        finally:
            self._interpreter.sink = None

    def close(self) -> None:
        pass


def _first_rows(value: Any, n: int) -> Any:
    if isinstance(value, (tuple, list)):
        return type(value)(_first_rows(v, n) for v in value)
    return value[:n] if hasattr(value, "shape") and len(value.shape) > 0 else value


def _concat(parts: list[Any]) -> Any:
    import torch

    first = parts[0]
    if isinstance(first, (tuple, list)):
        return type(first)(_concat([p[i] for p in parts]) for i in range(len(first)))
    if isinstance(first, torch.Tensor) and first.ndim > 0:
        return torch.cat(parts)
    return first

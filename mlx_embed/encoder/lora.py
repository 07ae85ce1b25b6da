"""PEFT LoRA adapters kept side by side on one base model and switched per call.

Each adapted linear computes y = x @ W.T + (x @ A.T) @ (scale * B.T) with the active task's A and B.
Switching a task swaps which (A, B) pair is read: no base weight is copied, reloaded or modified, so
switching is microseconds and retrieval -> clustering -> retrieval gives bit-identical vectors.
(Fusing W + scale * B @ A on switch was measured slower to switch and needs a second copy of W to
stay exact: see bench/encoder.py and the README.)

Projections that read the same input (q/k/v, gate/up) keep their A matrices side by side in one
array per task, so x @ A is one matrix product for the group (rank-32 products are too thin to run
at BLAS speed alone), and each member takes its columns of the result. The add of the low-rank term
happens inside the second product (`addmm`), not as a separate pass over the output.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn

from ..errors import AdapterError, ModelFormatError

# Settings PEFT supports that change the computation. Ignoring them would give wrong vectors.
_REFUSED = {
    "use_dora": "DoRA (use_dora=true)",
    "use_rslora": "rank-stabilised LoRA (use_rslora=true)",
    "modules_to_save": "modules_to_save (extra fully trained modules)",
    "rank_pattern": "per-layer ranks (rank_pattern)",
    "alpha_pattern": "per-layer alphas (alpha_pattern)",
    "layers_to_transform": "layers_to_transform",
}

_KEY = re.compile(r"^(?:base_model\.model\.)?(?:model\.)?(?P<module>.+)\.lora_(?P<ab>[AB])(?:\.[^.]+)?\.weight$")


# Sibling projections that are always called on the same input, in the architectures we load.
SHARED_INPUT = ({"q_proj", "k_proj", "v_proj"}, {"gate_proj", "up_proj"}, {"query", "key", "value"})


class LoRALinear(nn.Module):
    """A linear layer with any number of named LoRA deltas, at most one active."""

    def __init__(self, linear: nn.Module):
        super().__init__()
        self.linear = linear
        object.__setattr__(self, "deltas", {})  # task -> (A.T, scale * B.T); kept out of parameters()
        object.__setattr__(self, "active", None)
        object.__setattr__(self, "task", None)
        object.__setattr__(self, "group", None)

    def __call__(self, x: mx.array) -> mx.array:
        y = self.linear(x)
        if self.active is None:
            return y
        a, b = self.active
        xa = self.group.project(self, x) if self.group is not None else x @ a
        return mx.addmm(y, xa, b)


class SharedInputGroup:
    """LoRA layers reading one input: x @ [A_1 A_2 ...] once, each member reading its columns.

    The product is kept until every member has used it (so one layer's activations are not held
    while the next layer runs) and is only reused for the very same input array and task, so a
    member called on another input still gets its own, correct product.
    """

    def __init__(self, members: list[LoRALinear]):
        self.members = members
        self.stacks: dict[str, tuple[mx.array, dict[int, tuple[int, int]]]] = {}
        self._cache: tuple[mx.array, str, mx.array, set[int]] | None = None
        tasks = set.intersection(*(set(m.deltas) for m in members))
        for task in sorted(tasks):
            a_all = mx.concatenate([m.deltas[task][0] for m in members], axis=1)
            columns, start = {}, 0
            for m in members:
                a, b = m.deltas[task]
                columns[id(m)] = (start, start + a.shape[1])
                # the member's A becomes a view of the stack: no second copy in memory
                m.deltas[task] = (a_all[:, start:start + a.shape[1]], b)
                start += a.shape[1]
            self.stacks[task] = (a_all, columns)

    def project(self, member: LoRALinear, x: mx.array) -> mx.array:
        stack = self.stacks.get(member.task)
        if stack is None:
            return x @ member.active[0]
        cache = self._cache
        if cache is None or cache[0] is not x or cache[1] != member.task or id(member) not in cache[3]:
            cache = (x, member.task, x @ stack[0], {id(m) for m in self.members})
        cache[3].discard(id(member))
        self._cache = cache if cache[3] else None
        lo, hi = stack[1][id(member)]
        return cache[2][..., lo:hi]


def read_adapter_config(folder: Path) -> dict:
    path = folder / "adapter_config.json"
    if not path.is_file():
        raise AdapterError(f"Adapter folder {folder} has no adapter_config.json. Re-download the model.")
    try:
        config = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise AdapterError(f"{path} is not valid JSON ({exc}). Re-download the model.") from exc
    if str(config.get("peft_type", "LORA")).upper() != "LORA":
        raise AdapterError(f"{path}: peft_type {config.get('peft_type')!r} is not supported (only LORA).")
    for key, what in _REFUSED.items():
        if config.get(key):
            raise AdapterError(f"{path} uses {what}, which mlx-embed does not support; refusing to load "
                               "it rather than give wrong vectors.")
    if config.get("bias", "none") != "none":
        raise AdapterError(f"{path} trains biases (bias={config['bias']!r}), which mlx-embed does not "
                           "support; refusing to load it rather than give wrong vectors.")
    if not isinstance(config.get("r"), int) or config["r"] <= 0:
        raise AdapterError(f"{path}: 'r' must be a positive integer, found {config.get('r')!r}.")
    return config


def read_adapters(folder: Path, config: dict, dtype: mx.Dtype) -> dict[str, dict]:
    """Every task's adapter of a model folder (adapters/<task>/), in config.json's task order."""
    root = folder / "adapters"
    if not root.is_dir():
        return {}
    declared = list(config.get("task_names") or [])
    present = sorted(p.name for p in root.iterdir() if p.is_dir())
    names = declared or present
    missing = [t for t in names if t not in present]
    if missing:
        raise ModelFormatError(f"config.json lists task(s) {missing} but {root} has no folder for them "
                               f"(found: {present}). Re-download the model.")
    return {task: load_adapter(root / task, dtype) for task in names}


def load_adapter(folder: Path, dtype: mx.Dtype) -> dict[str, tuple[mx.array, mx.array]]:
    """Read one PEFT adapter folder into {module path: (A.T, scale * B.T)}."""
    config = read_adapter_config(folder)
    scale = float(config.get("lora_alpha", config["r"])) / config["r"]
    path = folder / "adapter_model.safetensors"
    if not path.is_file():
        raise AdapterError(f"Adapter folder {folder} has no adapter_model.safetensors. Re-download the model.")
    try:
        tensors = mx.load(str(path))
    except Exception as exc:
        raise AdapterError(f"{path} could not be read ({exc}); the file is corrupt or truncated. "
                           "Re-download the model.") from exc
    pairs: dict[str, dict[str, mx.array]] = {}
    for key, value in tensors.items():
        match = _KEY.match(key)
        if not match:
            raise AdapterError(f"{path}: unexpected tensor '{key}' (only lora_A/lora_B weights are supported).")
        pairs.setdefault(match["module"], {})[match["ab"]] = value
    deltas = {}
    for module, ab in pairs.items():
        if set(ab) != {"A", "B"}:
            raise AdapterError(f"{path}: '{module}' has lora_{''.join(ab)} but not both lora_A and lora_B.")
        a, b = ab["A"], ab["B"]
        if a.shape[0] != b.shape[1]:
            raise AdapterError(f"{path}: '{module}' lora_A {a.shape} and lora_B {b.shape} disagree on the rank.")
        deltas[module] = (a.T.astype(dtype), (b.astype(mx.float32) * scale).T.astype(dtype))
    if not deltas:
        raise AdapterError(f"{path} holds no LoRA weights.")
    return deltas


def attach_adapters(model: nn.Module, adapters: dict[str, dict[str, tuple[mx.array, mx.array]]]) -> list[LoRALinear]:
    """Wrap every linear that any adapter targets; return the wrappers."""
    targets = sorted({m for deltas in adapters.values() for m in deltas})
    modules = dict(model.named_modules())
    wrappers = {}
    for name in targets:
        linear = modules.get(name)
        if linear is None or not hasattr(linear, "weight"):
            task = next(t for t, d in adapters.items() if name in d)
            raise AdapterError(f"Adapter '{task}' targets '{name}', which is not a linear layer of this model.")
        out_dim = linear.weight.shape[0]
        # A quantized weight packs 32 // bits values per uint32 (3, 5, 6 bits: 32 * cols / bits overall).
        in_dim = linear.weight.shape[1] * 32 // linear.bits if hasattr(linear, "bits") else linear.weight.shape[1]
        for task, deltas in adapters.items():
            if name in deltas:
                a, b = deltas[name]
                if a.shape[0] != in_dim or b.shape[1] != out_dim:
                    raise AdapterError(f"Adapter '{task}' has shape A{tuple(a.shape)} B{tuple(b.shape)} for "
                                       f"'{name}', which is {in_dim} -> {out_dim}: it belongs to another model.")
        wrappers[name] = LoRALinear(linear)
        for task, deltas in adapters.items():
            if name in deltas:
                wrappers[name].deltas[task] = deltas[name]
    for name, wrapper in wrappers.items():
        replace_module(model, name, wrapper)
    _group_shared_inputs(wrappers)
    return list(wrappers.values())


def _group_shared_inputs(wrappers: dict[str, LoRALinear]) -> None:
    by_parent: dict[tuple[str, int], list[LoRALinear]] = {}
    for name, wrapper in wrappers.items():
        parent, _, leaf = name.rpartition(".")
        kind = next((i for i, names in enumerate(SHARED_INPUT) if leaf in names), None)
        if kind is not None:
            by_parent.setdefault((parent, kind), []).append(wrapper)
    for members in by_parent.values():
        if len(members) > 1:
            group = SharedInputGroup(members)
            for m in members:
                object.__setattr__(m, "group", group)


def activate(wrappers: list[LoRALinear], task: str | None) -> None:
    """Make `task`'s deltas the active ones (None: the bare base model)."""
    for w in wrappers:
        object.__setattr__(w, "active", w.deltas.get(task) if task is not None else None)
        object.__setattr__(w, "task", task if w.active is not None else None)


def replace_module(model: nn.Module, name: str, new: nn.Module) -> None:
    *path, last = name.split(".")
    parent = model
    for part in path:
        parent = parent[int(part)] if isinstance(parent, list) else getattr(parent, part)
    if isinstance(parent, list):
        parent[int(last)] = new
    else:
        setattr(parent, last, new)

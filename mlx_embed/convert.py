"""`convert`: write an MLX-format checkpoint (optionally quantized) from any model `load` accepts.

The output is what mlx-lm writes: `model.safetensors` (metadata format "mlx"; quantized layers as
weight + scales + biases) and a config.json with the standard `quantization` entry, plus an
`mlx_embed` entry recording the source and what was done. Adapters stay adapters (the PEFT layout
under adapters/<task>/, which `load` reads) unless `merge_task` folds one into the base weights.
Tokenizer and sentence-transformers files are copied; code files never are. The folder is written
to a temporary sibling and renamed into place, so OUT is either complete or absent.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten

from . import adapters as lora
from . import quant_recipe
from .errors import InvalidArgumentError, MlxEmbedError
from .models.base import widen_tables
from .quantized import AFFINE_BITS, GROUP_SIZES

DTYPES = {"float32": mx.float32, "float16": mx.float16, "bfloat16": mx.bfloat16}
# Files a model folder needs besides weights and config.json (sentence-transformers modules too).
COPIED = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
          "vocab.txt", "vocab.json", "merges.txt", "tokenizer.model", "sentencepiece.bpe.model",
          "config_sentence_transformers.json", "modules.json", "sentence_bert_config.json",
          "generation_config.json", "README.md", "LICENSE", "LICENSE.md", "LICENSE.txt", "NOTICE")


TABLE_TEXTS = 16  # calibration texts the token table's sensitivity is measured on


class OutputExistsError(MlxEmbedError):
    """OUT already exists and --force was not given."""

    exit_code = 1


def quantizable(module: nn.Module, group_size: int) -> bool:
    """Linear and embedding layers whose input dimension the group size divides (as mlx-lm does)."""
    return hasattr(module, "to_quantized") and "weight" in module and module.weight.shape[-1] % group_size == 0


def default_recipe(bits: int | None) -> str:
    """4 bits get the mixed recipe (uniform 4-bit loses too much); other widths stay uniform."""
    return "mixed" if bits == 4 else "uniform"


def convert(src: str | os.PathLike, out: str | os.PathLike, *, bits: int | None = None, group_size: int = 64,
            dtype: str = "float16", merge_task: str | None = None, force: bool = False,
            calibrate: bool | list[str] | None = None, download: bool = True, recipe: str | None = None,
            budget: float = quant_recipe.DEFAULT_BUDGET) -> dict[str, Any]:
    """Convert `src` into an MLX-format checkpoint in `out`; return a summary of what was written.

    bits: None keeps float weights (in `dtype`), else 2-8 for affine group quantization of every
    linear and embedding layer whose input dimension `group_size` divides. dtype: float16, bfloat16
    or float32 for everything left float (norms, scales, biases, adapters). merge_task: fold that
    task's LoRA adapter into the base weights (W + scale * B @ A) and drop the adapters.
    calibrate: quantize the linear layers with GPTQ (error feedback from the inputs each layer sees on
    calibration texts: True for the built-in set, or a list of texts) instead of rounding to nearest.
    The output format is the same; only the chosen integers differ. None: the recipe's default.
    recipe: which bits each layer gets (quant_recipe.RECIPES); default "mixed" at 4 bits (GPTQ on,
    average at most `budget` bits per weight), "uniform" otherwise (round-to-nearest).
    """
    if bits is not None and bits not in AFFINE_BITS:
        raise InvalidArgumentError(f"bits={bits!r} is not supported; use one of {', '.join(map(str, AFFINE_BITS))}.")
    if group_size not in GROUP_SIZES:
        raise InvalidArgumentError(f"group_size={group_size!r} is not supported; use one of "
                                   f"{', '.join(map(str, GROUP_SIZES))}.")
    if dtype not in DTYPES:
        raise InvalidArgumentError(f"dtype={dtype!r} is not supported; use one of {', '.join(DTYPES)}.")
    recipe = recipe or default_recipe(bits)
    if recipe not in quant_recipe.RECIPES:
        raise InvalidArgumentError(f"Unknown recipe {recipe!r}; use one of: {', '.join(quant_recipe.RECIPES)}.")
    if bits is None and (calibrate or recipe != "uniform"):
        raise InvalidArgumentError("--calibrate and --recipe need --bits (there is nothing to quantize).")
    if recipe == "mixed" and bits != 4:
        raise InvalidArgumentError(f"The 'mixed' recipe is a 4-bit recipe; use --bits 4, or --recipe uniform "
                                   f"for {bits} bits.")
    if calibrate is None:
        calibrate = recipe == "mixed"
    out = Path(out).expanduser().absolute()
    if out.exists() and not force:
        raise OutputExistsError(f"{out} already exists; pass --force (force=True) to replace it.")
    from .loading import load

    started = time.perf_counter()
    model = load(src, dtype="float32", download=download)
    source = Path(model.path)
    source_dir = source if source.is_dir() else source.parent
    if out == source_dir or out in source_dir.parents or (out.exists() and out.is_file()):
        raise InvalidArgumentError(f"{out} is the source model, a folder holding it, or a file; choose a new "
                                   "output folder.")
    if model.config.get("quantization"):
        raise InvalidArgumentError(f"{source} is already quantized ({model.config['quantization'].get('bits')} "
                                   "bits); convert the float model instead.")
    if merge_task is not None:
        if not model.tasks:
            raise InvalidArgumentError(f"{source} has no adapters, so there is no task to merge; drop --merge-task.")
        if merge_task not in model.tasks:
            raise InvalidArgumentError(f"Unknown task {merge_task!r} for --merge-task; this model's tasks are: "
                                       f"{', '.join(model.tasks)}.")

    network = model.network
    widen_tables(network)  # quantization and dtype conversion start from float32, as for every other weight
    wrappers = _unwrap_adapters(network)
    if merge_task is not None:
        for wrapper in wrappers.values():
            if merge_task in wrapper.deltas:
                a, b = wrapper.deltas[merge_task]  # (in, r) and (r, out), scale already in b
                wrapper.linear.weight = wrapper.linear.weight + (a @ b).T.astype(wrapper.linear.weight.dtype)
    target = DTYPES[dtype]
    quantized_layers, layers, shapes = 0, {}, quant_recipe.candidate_shapes(network)
    if bits is not None:
        gains = None
        if recipe == "mixed" or calibrate is not False:
            texts = calibrate if isinstance(calibrate, list) else calibration_texts(model.prompts)
        modules = dict(network.named_modules())
        if recipe == "mixed":  # the token table's sensitivity differs most between models: measure it
            batches = [mx.array([ids], dtype=mx.int32)
                       for ids in model.tokenizer.encode(texts[:TABLE_TEXTS], min(128, model.max_length))]
            gains = {p: quant_recipe.table_gain(network, p, batches) for p, m in modules.items()
                     if isinstance(m, nn.Embedding) and quant_recipe.role(p) == "embed"}
        layers = quant_recipe.plan(network, recipe, bits, group_size, budget, gains)
        hessians = None
        if calibrate is not False:
            linears = sorted(p for p, m in modules.items() if p in layers and isinstance(m, nn.Linear))
            hessians = input_hessians(model, linears, texts)
        solved = solve_layers(modules, layers, hessians, clip_tables=recipe == "mixed")
        nn.quantize(network, class_predicate=lambda p, _: dict(layers[p]) if p in layers else False)
        modules = dict(network.named_modules())
        for path, (packed, scales, biases) in solved.items():
            modules[path].update({"weight": packed, "scales": scales, "biases": biases})
        quantized_layers = len(layers)
    bpw = quant_recipe.bits_per_weight(shapes, layers, 8 * DTYPES[dtype].size) if shapes else None
    weights = {k: v.astype(target) if mx.issubdtype(v.dtype, mx.floating) else v
               for k, v in tree_flatten(network.parameters())}

    # auto_map points at Python files, which are never copied (nor run)
    config = {k: v for k, v in model.config.items() if k not in ("quantization", "quantization_config", "auto_map")}
    config["_name_or_path"] = model.name
    if bits is not None:
        config["quantization"] = quant_recipe.config_entry(layers, shapes)
        config["quantization_config"] = dict(config["quantization"])  # mlx-lm writes both
    kept_tasks = [] if merge_task is not None else list(model.tasks)
    if merge_task is not None:
        config.pop("task_names", None)
    for key in ("torch_dtype", "dtype"):
        if key in config:
            config[key] = dtype
    from . import __version__

    config["mlx_embed"] = {"converted_from": str(src), "source_path": str(source), "source_name": model.name,
                           "bits": bits, "group_size": group_size if bits is not None else None, "dtype": dtype,
                           "merged_task": merge_task, "tasks": kept_tasks, "quantized_layers": quantized_layers,
                           "method": ("gptq" if calibrate is not False else "round-to-nearest") if bits else None,
                           "embedding_rounding": ("clip-search" if recipe == "mixed" else "round-to-nearest")
                           if bits else None,
                           "recipe": recipe if bits else None, "bits_per_weight": round(bpw, 4) if bpw else None,
                           "version": __version__}

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        mx.save_safetensors(str(tmp / "model.safetensors"), weights, metadata={"format": "mlx"})
        (tmp / "config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        copied = _copy_support_files(source_dir if source.is_dir() else None, tmp, model)
        for task in kept_tasks:
            _write_adapter(source_dir / "adapters" / task, tmp / "adapters" / task, target)
        _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"source": str(source), "output": str(out), "bits": bits, "calibrated": calibrate is not False,
            "group_size": group_size if bits is not None else None, "dtype": dtype, "merged_task": merge_task,
            "tasks": kept_tasks, "quantized_layers": quantized_layers, "copied": copied,
            "recipe": recipe if bits is not None else None, "bits_per_weight": bpw,
            "source_weight_bytes": weight_bytes(source), "output_weight_bytes": weight_bytes(out),
            "seconds": round(time.perf_counter() - started, 2)}


def solve_layers(modules: dict[str, nn.Module], layers: dict[str, dict[str, Any]], hessians: dict | None,
                 clip_tables: bool) -> dict[str, tuple[mx.array, mx.array, mx.array]]:
    """(packed, scales, biases) of the planned layers that are not plain round-to-nearest: linear layers
    with a Hessian by GPTQ (each Hessian is popped once used: they are large), and, with clip_tables,
    embedding tables by the data-free clip search (no inputs to calibrate them on)."""
    solved = {}
    for path, setting in layers.items():
        module = modules[path]
        if isinstance(module, nn.Linear) and hessians is not None:
            solved[path] = gptq_quantize(module.weight, hessians.pop(path), setting["group_size"], setting["bits"])
        elif isinstance(module, nn.Embedding) and clip_tables:
            solved[path] = clip_search_quantize(module.weight, setting["group_size"], setting["bits"])
    return solved


# --- GPTQ (Frantar et al. 2022): round one input column at a time, push its error onto the columns
# not yet rounded, weighted by the inverse Hessian of the layer's calibration inputs.
CALIBRATION_MODULES = ("os", "json", "re", "collections", "pathlib", "shutil", "subprocess", "datetime",
                       "statistics", "email.message", "http.client", "csv", "zipfile", "logging", "argparse",
                       "decimal", "asyncio")


def calibration_texts(prompts: dict[str, str], count: int = 64) -> list[str]:
    """Real prose that ships with every Python: standard-library docstrings, with the model's prompts."""
    import importlib
    import inspect

    texts: list[str] = []
    for name in CALIBRATION_MODULES:
        module = importlib.import_module(name)
        for attr in sorted(dir(module)):
            doc = " ".join((inspect.getdoc(getattr(module, attr, None)) or "").split())
            if not attr.startswith("_") and len(doc) > 200 and doc not in texts:
                texts.append(doc[:600])
    texts = texts[:: max(1, len(texts) // count)][:count]
    prefixes = [p for p in prompts.values() if p] or [""]
    return [prefixes[i % len(prefixes)] + t for i, t in enumerate(texts)]


class _Recorder(nn.Module):
    """Runs a linear layer and adds its inputs' X^T X to a running sum."""

    def __init__(self, linear: nn.Module):
        super().__init__()
        self.linear = linear
        object.__setattr__(self, "xtx", None)

    def __call__(self, x: mx.array) -> mx.array:
        flat = x.reshape(-1, x.shape[-1]).astype(mx.float32)
        xtx = flat.T @ flat
        object.__setattr__(self, "xtx", xtx if self.xtx is None else self.xtx + xtx)
        return self.linear(x)


def input_hessians(model, paths: list[str], texts: list[str], max_length: int = 256) -> dict[str, "np.ndarray"]:
    """X^T X of each linear layer's inputs over `texts` (one text per pass: no padding rows)."""
    import numpy as np

    network = model.network
    recorders = {p: _Recorder(m) for p, m in network.named_modules() if p in set(paths)}
    for path, recorder in recorders.items():
        lora._replace(network, path, recorder)
    try:
        for ids in model.tokenizer.encode(texts, min(max_length, model.max_length)):
            hidden = network(mx.array([ids], dtype=mx.int32), mx.array([len(ids)]))
            mx.eval(hidden, [r.xtx for r in recorders.values()])
    finally:
        for path, recorder in recorders.items():
            lora._replace(network, path, recorder.linear)
    return {p: np.array(r.xtx, dtype=np.float64) for p, r in recorders.items()}


def gptq_quantize(weight: mx.array, hessian, group_size: int, bits: int, block: int = 128, damp: float = 0.01):
    """(packed uint32 weight, scales, biases) in MLX's affine layout, integers chosen by GPTQ.

    Columns are rounded in order of falling Hessian diagonal ("act-order": the input channels with the
    largest activations first, so the error of rounding them is pushed onto channels that matter less),
    on grids fixed beforehand from each group's original range ("static groups": a group's columns are
    no longer contiguous in that order). On all-MiniLM-L6-v2's default mixed plan, against contiguous
    order with grids from the columns as updated: cosine to float32 mean / min 0.99202 / 0.9751 ->
    0.99232 / 0.9815 (docstring retrieval set and 300 held-out paragraphs); the lowest rose on both
    retrieval sets measured, the mean by 0.0002-0.0003.
    """
    import numpy as np

    w = np.array(weight.astype(mx.float32), dtype=np.float32)
    rows, cols = w.shape
    top = 2 ** bits - 1
    h = hessian.copy()
    dead = np.diag(h) == 0
    h[dead, dead] = 1.0
    w[:, dead] = 0.0
    h += damp * np.mean(np.diag(h)) * np.eye(cols)
    grouped = w.reshape(rows, cols // group_size, group_size)
    lows = np.minimum(grouped.min(-1), 0.0)
    scales = np.maximum((np.maximum(grouped.max(-1), 0.0) - lows) / top, 1e-8)
    order = np.argsort(-np.diag(h), kind="stable")
    w, h = w[:, order], h[np.ix_(order, order)]
    try:
        hinv = np.linalg.cholesky(np.linalg.inv(h)).T.astype(np.float32)  # upper Cholesky factor of H^-1
    except np.linalg.LinAlgError:
        hinv = None
    q = np.zeros((rows, cols), dtype=np.uint32)
    for start in range(0, cols, block):
        end = min(start + block, cols)
        part = w[:, start:end].copy()
        errors = np.zeros_like(part)
        for i in range(end - start):
            col = start + i
            group = order[col] // group_size
            lo, scale = lows[:, group], scales[:, group]
            ints = np.clip(np.round((part[:, i] - lo) / scale), 0, top)
            q[:, order[col]] = ints
            if hinv is None:
                continue
            err = (part[:, i] - (ints * scale + lo)) / hinv[col, col]
            part[:, i:] -= np.outer(err, hinv[col, col:end])
            errors[:, i] = err
        if hinv is not None:
            w[:, end:] -= errors @ hinv[start:end, end:]
    return mx.array(pack(q, bits)), mx.array(scales), mx.array(lows)


CLIP_SHRINKS = (1.0, 0.967, 0.933, 0.9)


def clip_search_quantize(weight: mx.array, group_size: int, bits: int, shrinks=CLIP_SHRINKS, refits: int = 3,
                         chunk: int = 4096):
    """(packed, scales, biases) in MLX's affine layout, chosen without data for a token table: per group,
    the range [min, max] shrunk by whichever factor in `shrinks` gives the least squared error (clipping
    a rare outlier buys a finer grid for the rest), then `refits` rounds of least-squares scale and bias
    for the chosen integers, each kept only where it lowers the error. On all-MiniLM-L6-v2's 3-bit
    table (linear layers mixed + GPTQ): the search moved mean / min cosine 0.9912 / 0.978 -> 0.9921 /
    0.982 (150 held-out paragraphs); the refit then cut the table's squared error 8% more and moved
    0.9908 / 0.9693 -> 0.9912 / 0.9719 (300 paragraphs). A deeper search (down to 0.6) raised the
    mean but lowered the min.
    """
    import numpy as np

    rows, cols = weight.shape
    top = 2 ** bits - 1
    packed, scales, biases = [], [], []
    for start in range(0, rows, chunk):
        w = np.array(weight[start:start + chunk].astype(mx.float32), dtype=np.float32)
        g = w.reshape(w.shape[0], cols // group_size, group_size)
        lo, hi = g.min(-1), g.max(-1)
        best = None
        for s in shrinks:
            scale = np.maximum((hi - lo) * s / top, 1e-8)  # [s min, s max]: shrunk towards zero
            low = lo * s
            ints = np.clip(np.round((g - low[..., None]) / scale[..., None]), 0, top)
            err = ((ints * scale[..., None] + low[..., None] - g) ** 2).sum(-1)
            if best is None:
                best = [err, ints, scale, low]
            else:
                better = err < best[0]
                best[0] = np.where(better, err, best[0])
                best[1] = np.where(better[..., None], ints, best[1])
                best[2], best[3] = np.where(better, scale, best[2]), np.where(better, low, best[3])
        _, ints, scale, low = best
        for _ in range(refits):  # least-squares scale and bias for the chosen integers, then re-round
            mean_q, mean_w = ints.mean(-1), g.mean(-1)
            var = ((ints - mean_q[..., None]) ** 2).sum(-1)
            fit = np.maximum(((ints - mean_q[..., None]) * (g - mean_w[..., None])).sum(-1) / np.maximum(var, 1e-30),
                             1e-8)
            fit = np.where(var > 0, fit, scale)
            fit_low = mean_w - fit * mean_q
            again = np.clip(np.round((g - fit_low[..., None]) / fit[..., None]), 0, top)
            err = ((again * fit[..., None] + fit_low[..., None] - g) ** 2).sum(-1)
            better = err < best[0]
            best[0] = np.where(better, err, best[0])
            ints = np.where(better[..., None], again, ints)
            scale, low = np.where(better, fit, scale), np.where(better, fit_low, low)
        packed.append(pack(ints.reshape(w.shape).astype(np.uint32), bits))
        scales.append(scale.astype(np.float32))
        biases.append(low.astype(np.float32))
    return mx.array(np.concatenate(packed)), mx.array(np.concatenate(scales)), mx.array(np.concatenate(biases))


def pack(q: "np.ndarray", bits: int) -> "np.ndarray":
    """MLX's affine packing: each row a little-endian bit stream of `bits`-bit integers in uint32 words."""
    import numpy as np

    rows, cols = q.shape
    if 32 % bits == 0:  # whole values per word: one shift per position
        per = 32 // bits
        packed = np.zeros((rows, cols // per), dtype=np.uint32)
        for j in range(per):
            packed |= q[:, j::per].astype(np.uint32) << np.uint32(bits * j)
        return packed
    wide = q.astype(np.uint64)
    packed = np.zeros((rows, cols * bits // 32), dtype=np.uint64)
    for j in range(cols):  # 3, 5, 6 bits: a value may straddle two words
        word, offset = divmod(j * bits, 32)
        packed[:, word] |= (wide[:, j] << np.uint64(offset)) & np.uint64(0xFFFFFFFF)
        if offset + bits > 32:
            packed[:, word + 1] |= wide[:, j] >> np.uint64(32 - offset)
    return packed.astype(np.uint32)


def _unwrap_adapters(network: nn.Module) -> dict[str, lora.LoRALinear]:
    """Put the base linears back in place of the LoRA wrappers; return the wrappers by path."""
    wrappers = {name: m for name, m in network.named_modules() if isinstance(m, lora.LoRALinear)}
    for name, wrapper in wrappers.items():
        lora._replace(network, name, wrapper.linear)
    return wrappers


def _copy_support_files(source: Path | None, out: Path, model) -> list[str]:
    copied = []
    if source is not None:
        for name in COPIED:
            if (source / name).is_file():
                shutil.copy2(source / name, out / name)
                copied.append(name)
        modules = source / "modules.json"
        entries = json.loads(modules.read_text()) if modules.is_file() else []
        for entry in entries if isinstance(entries, list) else []:
            sub = str(entry.get("path") or "") if isinstance(entry, dict) else ""
            folder = (source / sub).resolve()
            if not sub or folder == source.resolve() or source.resolve() not in folder.parents or not folder.is_dir():
                continue
            (out / sub).mkdir(parents=True, exist_ok=True)
            for file in sorted(folder.glob("*.json")):  # module configs only, never code
                shutil.copy2(file, out / sub / file.name)
                copied.append(f"{sub}/{file.name}")
    if "tokenizer.json" not in copied:  # e.g. a GGUF source: save the tokenizer the model was loaded with
        model.tokenizer._tok.save(str(out / "tokenizer.json"))
        copied.append("tokenizer.json (written)")
    if source is None:  # a single-file source (GGUF): record its pooling as a sentence-transformers pipeline
        from .loading import _ST_POOLING_KEYS

        key = next((k for k, v in _ST_POOLING_KEYS.items() if v == model.pooling), None)
        if key is not None:
            modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                       {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
            if getattr(model.profile, "normalize_module", False):
                modules.append({"idx": 2, "name": "2", "path": "2_Normalize",
                                "type": "sentence_transformers.models.Normalize"})
                (out / "2_Normalize").mkdir()
            (out / "1_Pooling").mkdir()
            (out / "1_Pooling" / "config.json").write_text(json.dumps(
                {"word_embedding_dimension": model.dim, key: True}, indent=2) + "\n")
            (out / "modules.json").write_text(json.dumps(modules, indent=2) + "\n")
            copied += ["modules.json (written)", "1_Pooling/config.json (written)"]
    if "config_sentence_transformers.json" not in copied and model.prompts:
        (out / "config_sentence_transformers.json").write_text(json.dumps(
            {"prompts": model.prompts, "default_prompt_name": model.default_prompt_name}, indent=2) + "\n")
        copied.append("config_sentence_transformers.json (written)")
    return copied


def _write_adapter(source: Path, out: Path, dtype: mx.Dtype) -> None:
    """The task's PEFT adapter in the same layout and keys, its tensors cast to `dtype`."""
    config = lora.read_adapter_config(source)
    tensors = mx.load(str(source / "adapter_model.safetensors"))
    out.mkdir(parents=True)
    (out / "adapter_config.json").write_text(json.dumps(config, indent=2) + "\n")
    mx.save_safetensors(str(out / "adapter_model.safetensors"),
                        {k: v.astype(dtype) if mx.issubdtype(v.dtype, mx.floating) else v for k, v in tensors.items()},
                        metadata={"format": "pt"})


def _replace_dir(tmp: Path, out: Path) -> None:
    """Rename `tmp` to `out`; an existing `out` is moved aside first and removed only afterwards."""
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        os.rename(out, old)
    try:
        os.rename(tmp, out)
    except BaseException:
        if old is not None:
            os.rename(old, out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def weight_bytes(path: str | os.PathLike) -> int:
    """Bytes of a model's weight files on disk (safetensors, adapters included; a GGUF file)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*.safetensors") if f.is_file())

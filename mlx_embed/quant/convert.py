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

from ..encoder import lora
from ..encoder.facts import DTYPES
from ..encoder.loading import load
from ..encoder.profile import ST_POOLING_KEYS
from ..encoder.quantized_checkpoint import AFFINE_BITS, GROUP_SIZES
from ..errors import InvalidArgumentError, MlxEmbedError
from ..models.base import widen_tables
from . import recipe as quant_recipe
from .clip_search import clip_search_quantize
from .gptq import gptq_quantize, input_hessians

# Files a model folder needs besides weights and config.json (sentence-transformers modules too).
COPIED = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
          "vocab.txt", "vocab.json", "merges.txt", "tokenizer.model", "sentencepiece.bpe.model",
          "config_sentence_transformers.json", "modules.json", "sentence_bert_config.json",
          "generation_config.json", "README.md", "LICENSE", "LICENSE.md", "LICENSE.txt", "NOTICE")


TABLE_TEXTS = 16  # calibration texts the token table's sensitivity is measured on


class OutputExistsError(MlxEmbedError):
    """OUT already exists and --force was not given."""

    exit_code = 1


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
    from .. import __version__

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


# Calibration texts (GPTQ's inputs, the token table's sensitivity): docstrings of these modules.
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


def _unwrap_adapters(network: nn.Module) -> dict[str, lora.LoRALinear]:
    """Put the base linears back in place of the LoRA wrappers; return the wrappers by path."""
    wrappers = {name: m for name, m in network.named_modules() if isinstance(m, lora.LoRALinear)}
    for name, wrapper in wrappers.items():
        lora.replace_module(network, name, wrapper.linear)
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
        key = next((k for k, v in ST_POOLING_KEYS.items() if v == model.pooling), None)
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

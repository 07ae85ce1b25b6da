"""Weight quantization: MLX-format quantized checkpoints and `mlx-embed convert`.

- checkpoint.py: reading, checking and describing MLX quantized checkpoints (config.json's
  `quantization` entry), the quantize-on-load rule, stored bits per setting, MLX's affine packing
- recipe.py: which bits and group size each layer gets (`--recipe uniform|mixed`)
- gptq.py: GPTQ for linear layers, from their calibration inputs' Hessians
- clip_search.py: the data-free clip search for token tables
- convert.py: `convert()`: load, plan, solve, write the checkpoint folder (and its calibration texts)

(Output precision of vectors is elsewhere: mlx_embed.encoder.precision. `load(quantize=...)` is
mlx_embed.encoder.loading.)
"""

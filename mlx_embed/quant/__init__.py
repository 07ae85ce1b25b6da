"""Weight quantization for `mlx-embed convert`: which bits each layer gets and how its integers are chosen.

It builds on the encoder (mlx_embed.encoder.quantized_checkpoint knows the MLX checkpoint format that
`load` reads and `convert` writes).

- recipe.py: which bits and group size each layer gets (`--recipe uniform|mixed`)
- gptq.py: GPTQ for linear layers, from their calibration inputs' Hessians
- clip_search.py: the data-free clip search for token tables
- convert.py: `convert()`: load, plan, solve, write the checkpoint folder (and its calibration texts)

(Output precision of vectors is mlx_embed.encoder.precision; `load(quantize=...)` is
mlx_embed.encoder.loading.quantize_weights.)
"""

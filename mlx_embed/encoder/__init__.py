"""The encoder: from model files to vectors. `mlx_embed.load` and `mlx_embed.EmbeddingModel` come from here.

Lowest first (a module imports only those above it in this list, plus mlx_embed.errors and mlx_embed.models):
- facts.py: tasks, prompt tables, float dtypes, device policy, the default model, `Profile`, `read_json`
- hub.py: a model's folder from a path, the Hugging Face cache or a download
- tokenizer.py: the model's tokenizer.json, post-processor included
- batching.py: length-sorted batches under a token budget
- pooling.py: token states -> one vector per text (last-token, mean, CLS)
- precision.py: Matryoshka truncation, normalisation, output precision (`quantize_embeddings`)
- quantized_checkpoint.py: MLX-format quantized checkpoints (config.json's `quantization`): read, checked,
  described; the quantize-on-load rule; stored bits per setting; MLX's affine packing
- lora.py: PEFT LoRA adapters side by side on one base model, switched per call
- profile.py: what a model folder says about its use (name, kind, prompts, pooling, length)
- weights.py: safetensors -> the architecture's network, checked against the config's shapes
- gguf_file.py: the GGUF file format (header, tensors as float)
- gguf_qwen3.py: a Qwen3 encoder from a GGUF file (llama.cpp names, tokenizer rebuild, profile)
- model.py: `EmbeddingModel` (encode, prompts, tasks, describe)
- loading.py: `load()`, the one place that builds an EmbeddingModel and quantizes weights on load
"""

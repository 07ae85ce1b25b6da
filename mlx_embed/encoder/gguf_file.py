"""The GGUF file format, as llama.cpp's convert_hf_to_gguf.py and llama-quantize write it: the header
(metadata and tensor table; fast even for Qwen's 151k-token vocabulary) and every tensor as float.

Files of F32/F16/BF16/Q4_0/Q8_0 tensors are read with `mx.load` (exact); others (Q4_K_M, Q6_K,
Q4_1...) are decoded here in MLX, or for rarer types (Q5_K, Q3_K, IQ...) with the `gguf` package.
What the tensors mean for a model is `gguf_qwen3`'s business.
"""

from __future__ import annotations

import mmap
import struct
from pathlib import Path
from typing import Any

import mlx.core as mx
import numpy as np

from ..errors import ModelFormatError

# llama.cpp's general.file_type names
FILE_TYPES = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
              11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
              17: "Q5_K_M", 18: "Q6_K", 32: "BF16"}


# --- reading the file ---------------------------------------------------------------------------
# mx.load decodes these GGML types exactly (Q4_0/Q8_0 as MLX (weight, scales, biases) triplets). It also
# accepts K-quants, but as float16 and, for Q4_K, wrongly (MLX 0.32's gguflib gives the high-nibble
# sub-blocks the previous sub-block's scale and min), and Q4_1 was mis-read before MLX 0.32: files with
# any other type are decoded here instead.
MLX_LOAD_TYPES = {0, 1, 2, 8, 30}  # F32, F16, Q4_0, Q8_0, BF16


def read_gguf(path: Path, use_mx_load: bool = True) -> tuple[dict[str, Any], dict[str, mx.array]]:
    """(metadata as plain Python values, float tensors by llama.cpp name)."""
    metadata, infos, data_start = open_gguf(path)
    return metadata, read_tensors(path, infos, data_start, use_mx_load=use_mx_load)


def open_gguf(path: Path) -> tuple[dict[str, Any], list[tuple[str, tuple[int, ...], int, int]], int]:
    """read_header with the errors a user can act on."""
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != b"GGUF":
        raise ModelFormatError(f"{path} is not a GGUF file (it does not start with 'GGUF'). "
                               "Re-download it, or pass a model folder.")
    try:
        metadata, infos, data_start = read_header(path)
    except (EOFError, ValueError, UnicodeDecodeError, OverflowError, MemoryError) as exc:
        raise ModelFormatError(_damaged(path, f"unreadable header: {exc or 'it ends early'}")) from exc
    return metadata, infos, data_start


def _damaged(path: Path, detail: str) -> str:
    return (f"{path} is truncated or corrupt ({detail}). Re-download it (an interrupted download leaves a "
            "partial file).")


def _fold_triplets(arrays: dict[str, mx.array]) -> dict[str, mx.array]:
    """mx.load's (name.weight, name.scales, name.biases) Q4_0/Q8_0 triplets -> float32 weights."""
    out = {}
    for key in [k for k in arrays if k.endswith(".scales")]:
        base = key.removesuffix(".scales")
        weight_key = base + ".weight" if base + ".weight" in arrays else base
        w, scales, biases = arrays.pop(weight_key), arrays.pop(key), arrays.pop(base + ".biases")
        bits = w.shape[-1] // scales.shape[-1]  # uint32 words per 32-value group = bits
        # float32 scales: dequantizing with the stored float16 ones would round the result to float16.
        out[weight_key] = mx.dequantize(w, scales.astype(mx.float32), biases.astype(mx.float32),
                                        group_size=32, bits=bits)
        mx.eval(out[weight_key])
    return out | arrays


_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_NUMPY = {0: "<u1", 1: "<i1", 2: "<u2", 3: "<i2", 4: "<u4", 5: "<i4", 6: "<f4", 7: "?", 10: "<u8", 11: "<i8",
          12: "<f8"}
_STRING, _ARRAY = 8, 9


class _Header:
    """A bounds-checked reader over the GGUF header (the metadata and the tensor table)."""

    def __init__(self, buf: mmap.mmap):
        self.buf, self.pos = buf, 0

    def take(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.buf):
            raise EOFError
        (value,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += size
        return value

    def string(self) -> str:
        n = self.take("<Q")
        if self.pos + n > len(self.buf):
            raise EOFError
        self.pos += n
        return self.buf[self.pos - n:self.pos].decode("utf-8", errors="replace")

    def value(self, vtype: int) -> Any:
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            itype, count = self.take("<I"), self.take("<Q")
            if itype == _STRING:
                if count > len(self.buf) - self.pos:
                    raise EOFError
                return [self.string() for _ in range(count)]
            if itype not in _NUMPY:
                raise ValueError(f"array of value type {itype}")
            nbytes = count * np.dtype(_NUMPY[itype]).itemsize
            if self.pos + nbytes > len(self.buf):
                raise EOFError
            items = np.frombuffer(self.buf[self.pos:self.pos + nbytes], dtype=_NUMPY[itype]).tolist()
            self.pos += nbytes
            return items
        if vtype not in _SCALARS:
            raise ValueError(f"value type {vtype}")
        return self.take(_SCALARS[vtype])


def read_header(path: Path) -> tuple[dict[str, Any], list[tuple[str, tuple[int, ...], int, int]], int]:
    """(metadata, [(name, shape, GGML type, offset)], byte offset of the tensor data). Fast for big vocabularies."""
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        h = _Header(buf)
        h.take("<I")  # magic, checked by the caller
        version = h.take("<I")
        if version not in (2, 3):
            raise ValueError(f"GGUF version {version}; versions 2 and 3 (little-endian) are supported")
        n_tensors, n_kv = h.take("<Q"), h.take("<Q")
        metadata = {}
        for _ in range(n_kv):
            key = h.string()
            metadata[key] = h.value(h.take("<I"))
        infos = []
        for _ in range(n_tensors):
            name = h.string()
            dims = [h.take("<Q") for _ in range(h.take("<I"))]
            infos.append((name, tuple(reversed(dims)), h.take("<I"), h.take("<Q")))
        alignment = int(metadata.get("general.alignment", 32))
        return metadata, infos, -(-h.pos // alignment) * alignment


def read_tensors(path: Path, infos: list[tuple[str, tuple[int, ...], int, int]], data_start: int,
                 use_mx_load: bool = True, skip: set[str] = frozenset()) -> dict[str, mx.array]:
    """Every tensor as float: with mx.load when it reads them all exactly, else decoded here."""
    if use_mx_load and all(ggml_type in MLX_LOAD_TYPES for _, _, ggml_type, _ in infos):
        try:
            tensors = _fold_triplets(mx.load(str(path)))
        except Exception as exc:
            raise ModelFormatError(_damaged(path, str(exc))) from exc
        return {k: v for k, v in tensors.items() if k not in skip}
    size = path.stat().st_size
    data = np.memmap(path, dtype=np.uint8, mode="r") if size else np.zeros(0, np.uint8)
    tensors = {}
    for name, shape, ggml_type, offset in infos:
        if name in skip:
            continue
        block, type_size, decode = _block_format(path, name, ggml_type)
        count = int(np.prod(shape))
        if not shape or shape[-1] % block:
            raise ModelFormatError(_damaged(path, f"tensor '{name}' of shape {shape} is not whole blocks of "
                                                  f"{block} values"))
        start, nbytes = data_start + offset, count // block * type_size
        if start + nbytes > size:
            raise ModelFormatError(_damaged(path, f"tensor '{name}' ends at byte {start + nbytes}, the file "
                                                  f"has {size} bytes"))
        raw = data[start:start + nbytes]
        if decode is not None:
            tensors[name] = decode(mx.array(raw).reshape(-1, type_size)).reshape(shape)
        else:
            tensors[name] = mx.array(_gguf_dequantize(path, name, raw, shape, ggml_type, block, type_size))
        mx.eval(tensors[name])
    return tensors


def _block_format(path: Path, name: str, ggml_type: int):
    if ggml_type in _MLX_DECODERS:
        return _MLX_DECODERS[ggml_type]
    try:
        from gguf import GGML_QUANT_SIZES, GGMLQuantizationType
    except ImportError as exc:
        raise ModelFormatError(f"{path}: tensor '{name}' has GGML type {ggml_type}; decoding it needs the "
                               "`gguf` package: pip install gguf") from exc
    try:
        return (*GGML_QUANT_SIZES[GGMLQuantizationType(ggml_type)], None)
    except (ValueError, KeyError):
        raise ModelFormatError(f"{path}: tensor '{name}' has GGML type {ggml_type}, which the installed `gguf` "
                               "package does not know. Upgrade it (pip install -U gguf) or use another "
                               "quantization of this model (F16, Q8_0, Q4_K_M).") from None


def _gguf_dequantize(path: Path, name: str, raw: np.ndarray, shape: tuple[int, ...], ggml_type: int, block: int,
                     type_size: int) -> np.ndarray:
    from gguf import GGMLQuantizationType
    from gguf.quants import dequantize

    qtype = GGMLQuantizationType(ggml_type)
    try:
        return dequantize(raw.reshape(*shape[:-1], shape[-1] // block * type_size), qtype)
    except NotImplementedError:
        raise ModelFormatError(f"{path}: tensor '{name}' is {qtype.name}, which the `gguf` package cannot "
                               "dequantize. Use another quantization of this model (F16, Q8_0, Q4_K_M).") from None


# Decoders of the types jina publishes most (F16, Q8_0, Q4_K_M = Q4_K + Q6_K, Q4_0/Q4_1), on (n, block
# bytes) uint8 arrays -> (n, values) float. Block layouts as in ggml-common.h; the tests compare each with
# the `gguf` package's reference dequantizer. About 4x faster than numpy for Q4_K.
def _f16(pair: mx.array) -> mx.array:
    return mx.view(pair, mx.float16).reshape(-1, 1).astype(mx.float32)


def _nibbles(qs: mx.array) -> mx.array:
    """Low nibbles of all bytes, then high nibbles (Q4_0/Q4_1 order), as float32."""
    return mx.concatenate([qs & 15, qs >> 4], axis=1).astype(mx.float32)


def _q4_0(blocks: mx.array) -> mx.array:
    return _f16(blocks[:, 0:2]) * (_nibbles(blocks[:, 2:]) - 8)


def _q4_1(blocks: mx.array) -> mx.array:
    return _f16(blocks[:, 0:2]) * _nibbles(blocks[:, 4:]) + _f16(blocks[:, 2:4])


def _q8_0(blocks: mx.array) -> mx.array:
    return _f16(blocks[:, 0:2]) * mx.view(blocks[:, 2:], mx.int8).astype(mx.float32)


def _q4_k(blocks: mx.array) -> mx.array:
    """f16 d, f16 dmin, 12 bytes of 6-bit (scale, min) x 8 sub-blocks, 128 bytes of nibbles (low: even)."""
    n = blocks.shape[0]
    low, high, mixed = blocks[:, 4:8], blocks[:, 8:12], blocks[:, 12:16]
    scale = mx.concatenate([low & 63, (mixed & 15) | ((low >> 2) & 48)], axis=1).astype(mx.float32)
    minimum = mx.concatenate([high & 63, (mixed >> 4) | ((high >> 2) & 48)], axis=1).astype(mx.float32)
    qs = blocks[:, 16:].reshape(n, 4, 1, 32)
    q = mx.concatenate([qs & 15, qs >> 4], axis=2).reshape(n, 8, 32).astype(mx.float32)
    d, dmin = _f16(blocks[:, 0:2]), _f16(blocks[:, 2:4])
    return ((d * scale)[..., None] * q - (dmin * minimum)[..., None]).reshape(n, 256)


def _q6_k(blocks: mx.array) -> mx.array:
    """128 bytes of low nibbles, 64 bytes of high 2-bit pairs, 16 int8 sub-block scales, f16 d."""
    n = blocks.shape[0]
    ql, qh = blocks[:, :128].reshape(n, 2, 1, 64), blocks[:, 128:192].reshape(n, 2, 1, 32)
    scale = mx.view(blocks[:, 192:208], mx.int8).astype(mx.float32)
    low = mx.concatenate([ql & 15, ql >> 4], axis=2).reshape(n, 8, 32)
    high = mx.concatenate([qh & 3, (qh >> 2) & 3, (qh >> 4) & 3, qh >> 6], axis=2).reshape(n, 8, 32)
    q = ((low | (high << 4)).astype(mx.float32) - 32).reshape(n, 16, 16)
    return ((_f16(blocks[:, 208:210]) * scale)[..., None] * q).reshape(n, 256)


# GGML type id -> (values per block, bytes per block, decoder)
_MLX_DECODERS = {
    0: (1, 4, lambda b: mx.view(b, mx.float32)), 1: (1, 2, lambda b: mx.view(b, mx.float16)),
    30: (1, 2, lambda b: mx.view(b, mx.bfloat16)), 2: (32, 18, _q4_0), 3: (32, 20, _q4_1), 8: (32, 34, _q8_0),
    12: (256, 144, _q4_k), 14: (256, 210, _q6_k),
}

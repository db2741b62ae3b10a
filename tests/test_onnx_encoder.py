"""The bundled model on ONNX Runtime: the same vectors as torch's, never mixed with them,
exported once and atomically, and chosen by POISK_RUNTIME."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from encoders import encoder as enc_module
from encoders import onnx_export
from encoders.encoder import ModelLoadError, load_encoder, resolve_precision
from tests.test_bundled_model import seed_paragraphs

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ["порт Чанкай", "stipends for NAM students", "Движение неприсоединения"]


@pytest.fixture(scope="module")
def torch_encoder(model_cache: Path):
    """The bundled model on torch in float32: the reference."""
    return load_encoder(None, model_cache, "float32", runtime="torch")


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1)


@pytest.mark.model
@pytest.mark.parametrize(
    ("precision", "floor", "batched"),
    [("onnx-fp32", 0.9999, 0.9999), ("onnx-int8", 0.99, 0.995), ("onnx-mixed", 0.99, 0.995)],
)
def test_onnx_vectors_match_torch(
    torch_encoder, model_cache: Path, precision: str, floor: float, batched: float
) -> None:
    onnx = load_encoder(None, model_cache, runtime=precision)
    texts = seed_paragraphs()
    passages = onnx.encode_passages(texts)
    assert passages.dtype == np.float32 and passages.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-5)
    assert _cosines(passages, torch_encoder.encode_passages(texts)).min() >= floor
    together = onnx.encode_queries(QUERIES)  # a batch, padded ...
    alone = np.vstack([onnx.encode_queries([q]) for q in QUERIES])  # ... and one by one
    assert _cosines(together, torch_encoder.encode_queries(QUERIES)).min() >= floor
    # fp32: padding does not change a vector. int8 quantises activations per batch, so a
    # query batched with others moves a little (cosine 0.997-0.998 to itself alone).
    assert _cosines(together, alone).min() >= batched


@pytest.mark.model
def test_onnx_vectors_are_never_mixed_with_torch_ones(torch_encoder, model_cache: Path) -> None:
    int8 = load_encoder(None, model_cache, runtime="onnx-int8")
    fp32 = load_encoder(None, model_cache, runtime="onnx-fp32")
    assert (int8.dtype, fp32.dtype) == ("onnx-int8", "onnx-fp32")
    assert int8.fingerprint == torch_encoder.fingerprint + "+onnx-int8"
    assert fp32.fingerprint == torch_encoder.fingerprint + "+onnx-fp32"
    mixed = load_encoder(None, model_cache, runtime="onnx-mixed")
    assert mixed.fingerprint == torch_encoder.fingerprint + "+onnx-mixed"
    assert int8.name == torch_encoder.name and int8.dimension == torch_encoder.dimension


@pytest.mark.model
def test_tokens_are_counted_as_torch_counts_them(torch_encoder, model_cache: Path) -> None:
    onnx = load_encoder(None, model_cache, runtime="onnx-int8")
    assert onnx.max_tokens == torch_encoder.max_tokens
    torch_encoder.encode_passages(["a passage"])  # encoding used to leave truncation set
    for text in ["", "x", "passage: ", "Перуанский порт Чанкай", "слово " * 2000]:
        assert onnx.count_tokens(text) == torch_encoder.count_tokens(text)


@pytest.mark.model
def test_serving_on_onnx_does_not_import_torch(model_cache: Path) -> None:
    load_encoder(None, model_cache, runtime="onnx-int8")  # exported (needs torch) beforehand
    code = (
        "import sys; from pathlib import Path; from encoders.encoder import load_encoder; "
        f"e = load_encoder(None, Path({str(model_cache)!r}), runtime='onnx-int8'); "
        "e.encode_queries(['q']); e.encode_passages(['p']); "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=300)


def test_runtime_auto_follows_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(enc_module, "resolve_dtype", lambda d: "float32" if d == "auto" else d)
    for flags, passages, queries in (
        ({"avx2"}, "onnx-fp32", "onnx-fp32"),  # no VNNI: int8 missed the MRR bar there
        ({"avx2", "avx512_vnni"}, "onnx-fp32", "onnx-mixed"),
        ({"avx2", "avx_vnni"}, "onnx-fp32", "onnx-mixed"),
        ({"avx2", "amx_bf16", "amx_int8", "avx512_vnni"}, "float32", "onnx-mixed"),
        ({"avx2", "amx_bf16"}, "float32", "float32"),
    ):
        monkeypatch.setattr(enc_module, "cpu_flags", lambda flags=flags: flags)
        assert resolve_precision("auto") == passages  # "passages" is the default role
        assert resolve_precision("auto", role="passages") == passages
        assert resolve_precision("auto", role="queries") == queries
        assert resolve_precision("onnx-fp32", role="queries") == "onnx-fp32"  # a name is kept
    monkeypatch.setattr(enc_module, "cpu_flags", lambda: {"avx512_vnni"})
    assert resolve_precision("auto", "bfloat16", role="queries") == "bfloat16"
    assert resolve_precision("auto", "auto", "/some/other/model", role="queries") == "float32"
    with pytest.raises(ModelLoadError, match="passages, queries.*'answers'"):
        resolve_precision("auto", role="answers")
    monkeypatch.setattr(enc_module, "cpu_flags", lambda: {"avx2"})
    assert resolve_precision("auto", "bfloat16") == "bfloat16"  # a torch dtype asked for
    assert resolve_precision("auto", "auto", "/some/other/model") == "float32"
    assert resolve_precision("onnx-fp32") == "onnx-fp32"
    assert resolve_precision("torch", "bfloat16") == "bfloat16"
    with pytest.raises(ModelLoadError, match="bundled"):
        resolve_precision("onnx-int8", "auto", "/some/other/model")
    with pytest.raises(
        ModelLoadError, match="auto, torch, onnx-fp32, onnx-int8, onnx-mixed.*'tensorrt'"
    ):
        resolve_precision("tensorrt")


def _fake_converted(folder: Path) -> Path:
    """A folder bundled_fingerprint accepts, without converting the real weights."""
    from encoders.bundled import write_marker

    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"weights")
    write_marker(folder, source_sha256="ab" * 32)
    return folder


def test_export_is_built_once_and_installed_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    converted = _fake_converted(tmp_path / "models" / "e5")
    builds: list[Path] = []

    def fake_build(source: Path, dest: Path, precision: str) -> None:
        builds.append(dest)
        (dest / onnx_export.MODEL_FILE).write_bytes(b"onnx graph")
        onnx_export._write_marker(dest, onnx_export.bundled_fingerprint(source), precision)

    monkeypatch.setattr(onnx_export, "build_onnx", fake_build)
    threads = [
        threading.Thread(target=onnx_export.ensure_onnx_model, args=(converted, "int8"))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    target = onnx_export.onnx_model_dir(converted, "int8")
    assert len(builds) == 1 and builds[0] != target  # built once, in a temporary folder
    assert sorted(p.name for p in target.iterdir()) == ["model.onnx", "poisk-onnx.json"]
    assert [p.name for p in target.parent.iterdir() if ".tmp-" in p.name] == []
    assert json.loads((target / "poisk-onnx.json").read_text())["precision"] == "int8"
    (target / onnx_export.MODEL_FILE).write_bytes(b"cut")  # a damaged export is rebuilt
    assert onnx_export.ensure_onnx_model(converted, "int8") == target
    assert len(builds) == 2 and (target / onnx_export.MODEL_FILE).read_bytes() == b"onnx graph"
    assert oct(os.stat(target).st_mode & 0o777) == "0o755"


def test_a_failed_export_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    converted = _fake_converted(tmp_path / "models" / "e5")

    def failing(source: Path, dest: Path, precision: str) -> None:
        (dest / onnx_export.MODEL_FILE).write_bytes(b"half")
        raise RuntimeError("killed")

    monkeypatch.setattr(onnx_export, "build_onnx", failing)
    with pytest.raises(RuntimeError):
        onnx_export.ensure_onnx_model(converted, "fp32")
    leftovers = [p.name for p in converted.parent.iterdir() if "onnx" in p.name]
    assert leftovers == [onnx_export.onnx_model_dir(converted, "fp32").name + ".lock"]


@pytest.mark.model
def test_a_server_in_another_runtime_searches_a_build(
    torch_encoder, model_cache: Path, tmp_path: Path
) -> None:
    """Passages by torch, queries by ONNX onnx-mixed ("auto" on a CPU with VNNI): the build is
    served, stats say both runtimes, and each query finds torch's first hit first (int8
    moves vectors a little: lower places may swap)."""
    from indexer.build import reindex
    from search.contract import SearchRequest
    from search.service import Searcher

    index = tmp_path / "index"
    reindex(ROOT / "seeds", index, torch_encoder, model_cache, full=True)
    int8 = Searcher(index, load_encoder(None, model_cache, runtime="onnx-mixed"), None)
    same = Searcher(index, torch_encoder, None)
    stats = int8.stats()
    assert (stats.model.dtype, stats.query_dtype) == ("float32", "onnx-mixed")
    for query in ("порт Чанкай", "stipends for NAM students", "Движение неприсоединения"):
        request = SearchRequest(q=query, k=3, mode="semantic")
        ids = [hit.id for hit in int8.search(request).results]
        expected = [hit.id for hit in same.search(request).results]
        assert ids[0] == expected[0] and len(set(ids) & set(expected)) >= 2, query


@pytest.mark.model
def test_the_mixed_export_keeps_feed_forward_outputs_and_embeddings_in_float32(
    model_cache: Path,
) -> None:
    import onnx

    from encoders.bundled import ensure_bundled_model

    folder = onnx_export.ensure_onnx_model(ensure_bundled_model(model_cache), "mixed")
    graph = onnx.load(str(folder / onnx_export.MODEL_FILE)).graph
    float_products = {n.name for n in graph.node if n.op_type == "MatMul"}
    outputs = {f"/bert/encoder/layer.{i}/output/dense/MatMul" for i in range(12)}
    assert outputs <= float_products  # each layer's feed-forward output, in float32
    assert sum(n.op_type == "MatMulInteger" for n in graph.node) == 12 * 5  # the rest: int8
    types = {i.name: i.data_type for i in graph.initializer}
    assert types["bert.embeddings.word_embeddings.weight"] == onnx.TensorProto.FLOAT


def test_a_graph_without_feed_forward_outputs_is_not_half_quantised(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    weight = helper.make_tensor("w", TensorProto.FLOAT, [2, 2], [1.0, 0.0, 0.0, 1.0])
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="/bert/encoder/layer.0/dense/MatMul")
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
        [weight],
    )
    model = tmp_path / "model.onnx"
    onnx.save(helper.make_model(graph), str(model))
    with pytest.raises(RuntimeError, match="0 feed-forward outputs in 1 layers"):
        onnx_export.quantize_int8(model, tmp_path / "out.onnx", mixed=True)
    assert not (tmp_path / "out.onnx").exists()

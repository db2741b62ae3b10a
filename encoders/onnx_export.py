"""ONNX exports of the bundled model, built once into the model cache.

ONNX Runtime runs the bundled e5-small faster than torch on CPUs without native bfloat16
(docs/performance.md, "ONNX Runtime, query cache, workers"). The graph is traced from the
converted sentence-transformers folder (``encoders/bundled.py``) with ``torch.onnx.export``:
BERT and mean pooling over the attention mask, so the output is the sentence embedding before
normalisation, exactly what sentence-transformers computes. "int8" is that graph with its
weights quantised per channel by ``onnxruntime.quantization.quantize_dynamic`` (per-tensor
quantisation moved seed vectors to cosine 0.980 of float32; per channel keeps them at 0.99+);
"mixed" keeps the feed-forward outputs and the embeddings in float32 (``quantize_int8``).

Everything is local: the export reads the converted folder only. It is built in a temporary
sibling folder and renamed into place under a lock, so concurrent processes (the server's
workers starting together) export once and never see a half-written model.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

from encoders.bundled import (
    _install_lock,
    _make_readable,
    _remove_stale_temps,
    bundled_fingerprint,
)

log = logging.getLogger(__name__)

EXPORT_VERSION = 1
"""Bump when the exported graph or its quantisation changes, so caches are rebuilt."""

PRECISIONS = ("fp32", "int8", "mixed")
MODEL_FILE = "model.onnx"
MARKER_FILE = "poisk-onnx.json"
OPSET = 17


def onnx_model_dir(converted: Path, precision: str) -> Path:
    """Where the export of the converted folder in ``precision`` lives (a sibling folder)."""
    return converted.with_name(f"{converted.name}-onnx-{precision}-v{EXPORT_VERSION}")


def ensure_onnx_model(converted: Path, precision: str) -> Path:
    """The folder holding ``model.onnx`` for ``converted`` in ``precision``, built on first use.

    The build runs under the install lock: a second process waits for the first one's
    folder instead of exporting again (an export takes tens of seconds and a GB of memory).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"ONNX precision must be fp32 or int8, not {precision!r}")
    target = onnx_model_dir(converted, precision)
    source = bundled_fingerprint(converted)
    if _is_complete(target, source, precision):
        return target
    with _install_lock(target):
        if _is_complete(target, source, precision):
            return target
        _remove_stale_temps(target)
        tmp = Path(tempfile.mkdtemp(prefix=f"{target.name}.tmp-", dir=target.parent))
        try:
            build_onnx(converted, tmp, precision)
            _make_readable(tmp)
            _replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def build_onnx(converted: Path, dest: Path, precision: str) -> None:
    """Write ``model.onnx`` (and the marker, last) for ``converted`` into the folder ``dest``."""
    started = time.perf_counter()
    model = dest / MODEL_FILE
    if precision == "fp32":
        export_fp32(converted, model)
    else:
        fp32 = dest / "fp32.onnx"
        export_fp32(converted, fp32)
        quantize_int8(fp32, model, mixed=precision == "mixed")
        fp32.unlink()
    _write_marker(dest, bundled_fingerprint(converted), precision)
    seconds = time.perf_counter() - started
    log.info("exported %s as ONNX %s in %.1f s", converted, precision, seconds)


def export_fp32(converted: Path, out: Path) -> None:
    """Trace BERT + mean pooling of the converted folder into the ONNX file ``out``.

    Inputs ``input_ids`` and ``attention_mask`` (int64, batch x tokens, both dynamic), output
    ``embedding`` (float32, batch x hidden): sentence-transformers' Pooling, unnormalised.
    """
    import torch

    pooled = _MeanPooled.create(converted)
    dummy = torch.ones((2, 8), dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about shape-dependent Python code
        torch.onnx.export(
            pooled,
            (dummy, dummy),
            str(out),
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "embedding": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,  # the TorchScript exporter: no onnxscript, dynamic axes as given
        )


def quantize_int8(fp32: Path, out: Path, mixed: bool = False) -> None:
    """Dynamic int8 quantisation, weights per output channel: of every MatMul and Gather, or
    (``mixed``) of the MatMuls but each layer's feed-forward output, whose activations (after
    GELU, 1,536 wide) lose most in int8; the embeddings stay float32 too. On an AMX Xeon
    "mixed" kept MRR@10 within 0.01 of float32 in every mode where full int8 did not, at half
    float32's time a query (docs/performance.md, "A runtime per role")."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    options: dict[str, Any] = {}
    if mixed:
        options = {"op_types_to_quantize": ["MatMul"], "nodes_to_exclude": _ffn_outputs(fp32)}
    quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8, per_channel=True, **options)


def _ffn_outputs(model: Path) -> list[str]:
    """The feed-forward output MatMuls of the exported BERT (one a layer), by the names
    torch's exporter gives them; an export without them is refused, not half-quantised."""
    import onnx

    graph = onnx.load(str(model), load_external_data=False).graph
    layers = {n.name.split("/")[3] for n in graph.node if n.name.startswith("/bert/encoder/layer")}
    names = [
        n.name
        for n in graph.node
        if n.op_type == "MatMul" and n.name.endswith("/output/dense/MatMul")
        and "/attention/" not in n.name
    ]  # fmt: skip
    if not names or len(names) != len(layers):
        raise RuntimeError(f"found {len(names)} feed-forward outputs in {len(layers)} layers")
    return names


class _MeanPooled:
    """Builds the torch module that is exported: BertModel, then masked mean pooling."""

    @staticmethod
    def create(converted: Path) -> Any:
        """The module over the converted folder's weights, in float32 and eval mode."""
        import torch
        from transformers import AutoModel

        from encoders.base import quiet_loading

        with quiet_loading():
            bert = AutoModel.from_pretrained(
                str(converted), dtype=torch.float32, local_files_only=True
            )

        class MeanPooled(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.bert = bert

            def forward(self, input_ids: Any, attention_mask: Any) -> Any:
                hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask)
                mask = attention_mask.unsqueeze(-1).to(hidden.last_hidden_state.dtype)
                total = (hidden.last_hidden_state * mask).sum(1)
                return total / mask.sum(1).clamp(min=1e-9)

        return MeanPooled().eval()


def _write_marker(folder: Path, source_sha256: str, precision: str) -> None:
    """The completeness marker: versions, the weights it came from, the model file's size."""
    marker = {
        "export_version": EXPORT_VERSION,
        "source_sha256": source_sha256,
        "precision": precision,
        "size": (folder / MODEL_FILE).stat().st_size,
        "torch_version": metadata.version("torch"),
        "onnxruntime_version": metadata.version("onnxruntime"),
    }
    text = json.dumps(marker, indent=2) + "\n"
    (folder / MARKER_FILE).write_text(text, encoding="utf-8")


def _is_complete(folder: Path, source_sha256: str, precision: str) -> bool:
    """Whether ``folder`` holds a finished export of these weights in this precision."""
    try:
        marker = json.loads((folder / MARKER_FILE).read_text(encoding="utf-8"))
        return (
            marker["export_version"] == EXPORT_VERSION
            and marker["source_sha256"] == source_sha256
            and marker["precision"] == precision
            and (folder / MODEL_FILE).stat().st_size == marker["size"]
        )
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _replace(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` to ``target``, moving an incomplete leftover out of the way first."""
    if target.exists():
        trash = target.with_name(f"{target.name}.tmp-old-{os.getpid()}-{time.time_ns()}")
        os.replace(target, trash)
        shutil.rmtree(trash, ignore_errors=True)
    os.replace(tmp, target)

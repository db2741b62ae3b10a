"""The freshness bench end to end on a small corpus: new articles added in incremental
reindexes answer as a full rebuild does, and the JSON line has its fields."""

import json
from pathlib import Path

import pytest

from bench import freshness


def test_the_freshness_bench_prints_one_json_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # run() makes every vector index exact by patching its builder: undone after the test
    with monkeypatch.context() as patch:
        patch.setattr(
            freshness.vectors_module,
            "build_vector_index",
            freshness.vectors_module.build_vector_index,
        )
        freshness.main(
            ["--paragraphs", "300", "--add", "60", "--batches", "2", "--json",
             "--folder", str(tmp_path / "work")]
        )  # fmt: skip
    figures = json.loads(capsys.readouterr().out)
    assert (figures["paragraphs"], figures["added"], figures["segments"]) == (300, 60, 3)
    assert figures["equal"] is True
    assert figures["incremental_s"] > 0 and figures["full_rebuild_s"] > 0
    assert figures["batch_s"] and set(figures["p50_ms"]) == {"segmented", "single"}

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
            ["--paragraphs", "300", "--add", "60", "--batches", "2", "--runs", "2", "--json",
             "--folder", str(tmp_path / "work")]
        )  # fmt: skip
    figures = json.loads(capsys.readouterr().out)
    assert (figures["paragraphs"], figures["added"], figures["segments"]) == (300, 60, 3)
    assert figures["equal"] is True
    assert figures["incremental_s"] > 0 and figures["full_rebuild_s"] > 0
    assert figures["batch_s"] and set(figures["p50_ms"]) == {"segmented", "single"}
    # two runs of the same batches, each on its own copy of the one base build
    assert figures["runs"] == 2 and [len(b) for b in figures["batch_s"]] == [2, 2]
    assert figures["files_read"][0][0] == figures["files_read"][1][0] == 1  # the new file
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == [
        "base", "built.json", "full", "full.builds", "full.lock"
    ]  # fmt: skip
    assert [p.name for p in (tmp_path / "work" / "base" / "corpus").iterdir()] == [
        "base-0000.jsonl"
    ]


def test_reuse_finds_the_builds_of_an_earlier_run_with_the_same_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    argv = ["--paragraphs", "200", "--add", "40", "--batches", "2", "--json", "--folder", str(work)]
    with monkeypatch.context() as patch:
        patch.setattr(
            freshness.vectors_module,
            "build_vector_index",
            freshness.vectors_module.build_vector_index,
        )
        freshness.main([*argv, "--reuse"])
        first = json.loads(capsys.readouterr().out)
        builds = sorted(p.name for p in (work / "full.builds").iterdir())
        (work / "base" / "corpus" / "new99-0000.jsonl").write_text("")  # a stopped run's
        freshness.main([*argv, "--reuse"])
        again = json.loads(capsys.readouterr().out)
        assert sorted(p.name for p in (work / "full.builds").iterdir()) == builds  # not rebuilt
        assert again["equal"] is True and again["segments"] == first["segments"] == 3
        assert (again["base_build_s"], again["full_rebuild_s"]) == (
            first["base_build_s"], first["full_rebuild_s"]
        )  # fmt: skip
        freshness.main([*argv[:3], "50", *argv[4:], "--reuse"])  # other settings: built anew
        other = json.loads(capsys.readouterr().out)
    assert other["added"] == 50 and other["full_rebuild_s"] != first["full_rebuild_s"]
    assert sorted(p.name for p in (work / "full.builds").iterdir()) != builds

"""`manage.py reindex` through click's CliRunner, with a fake encoder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.config import Settings
from manage import cli
from tests.conftest import SEEDS
from tests.fakes import FakeEncoder


@pytest.fixture
def run(tmp_path: Path):
    settings = Settings(
        index_dir=tmp_path / "index", source_dir=SEEDS, cache_dir=tmp_path / "c", dtype="float32"
    )
    loaded: list[FakeEncoder] = []

    def load_encoder(name: str, cache_dir: Path, dtype: str) -> FakeEncoder:
        loaded.append(FakeEncoder(name=name))
        return loaded[-1]

    def load_cross(name: str) -> FakeEncoder | None:
        return None if name == "none" else FakeEncoder(name=name, dimension=24)

    def invoke(*args: str):
        obj = {"settings": settings, "load_encoder": load_encoder, "load_cross_encoder": load_cross}
        return CliRunner().invoke(cli, list(args), obj=obj)

    invoke.loaded = loaded
    return invoke


def test_reindex_prints_a_summary(run):
    result = run("reindex")
    assert result.exit_code == 0, result.output
    assert "indexed 2 articles, 21 paragraphs" in result.output
    assert "encoded 21 paragraphs, 0 taken from the cache" in result.output


def test_second_reindex_takes_everything_from_the_cache(run):
    run("reindex")
    result = run("reindex")
    assert "encoded 0 paragraphs, 21 taken from the cache" in result.output


def test_if_stale_skips_a_current_index_without_loading_the_model(run):
    run("reindex")
    result = run("reindex", "--if-stale")
    assert result.exit_code == 0
    assert "up to date" in result.output
    assert len(run.loaded) == 1


def test_skipped_files_are_listed_with_their_reason(run, tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "good.txt").write_text("Порт Чанкай открыт.", encoding="utf-8")
    (source / "bad.txt").write_bytes(b"\xff\xfe\x00broken")
    result = run("reindex", "--source", str(source))
    assert result.exit_code == 0, result.output
    assert "indexed 1 articles" in result.output
    assert "bad.txt" in result.output and "UTF-8" in result.output


def test_model_option_reaches_the_encoder_and_the_manifest(run, tmp_path):
    run("reindex", "--model", "my/model")
    assert run.loaded[-1].name == "my/model"
    assert '"name": "my/model"' in (tmp_path / "index" / "manifest.json").read_text()


def test_failure_is_one_line_and_non_zero(run, tmp_path):
    result = run("reindex", "--source", str(tmp_path / "nowhere"))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "does not exist" in lines[0]


def test_stats_prints_the_manifest(run):
    run("reindex")
    result = run("stats")
    assert result.exit_code == 0
    manifest = json.loads(result.output)
    assert manifest["counts"]["paragraphs"] == 21
    assert manifest["model"]["name"] == "multilingual-e5-small"


def test_search_prints_readable_hits_and_the_api_json(run):
    run("reindex")
    text = run("search", "порт Чанкай", "--k", "2")
    assert text.exit_code == 0, text.output
    assert "000_f267e610140cff85:7" in text.output.splitlines()[2]
    as_json = run("search", "порт Чанкай", "--k", "2", "--json")
    payload = json.loads(as_json.output)
    assert payload["results"][0]["id"] == "000_f267e610140cff85:7"
    assert list(payload) == [
        "query",
        "mode",
        "fusion",
        "alpha",
        "k",
        "offset",
        "total",
        "total_relation",
        "took_ms",
        "results",
    ]


def test_search_refuses_bad_values_in_one_line(run):
    run("reindex")
    result = run("search", "порт", "--k", "500")
    assert result.exit_code == 1
    assert result.output.strip() == "Error: k must be an integer from 1 to 100"


def test_the_poisk_command_is_installed_with_the_project(tmp_path: Path) -> None:
    """`make` installs the project, so `.venv/bin/poisk` is the same click group."""
    poisk = Path(sys.executable).parent / "poisk"
    done = subprocess.run([poisk, "--help"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert all(name in done.stdout for name in ("reindex", "search", "serve", "evaluate"))

"""The command line at its edges: errors before the model loads, Ctrl+C, a busy port, links,
the summary of what was skipped or changed, and `cache prune`."""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.config import Settings
from indexer.build import reindex, reindex_lock
from manage import cli
from tests.conftest import ROOT, SEEDS
from tests.fakes import FakeEncoder
from tests.live import HOST, Server, free_port, wait_until_up

TEXT = "Порт Чанкай открыт для судов из Китая, сообщает агентство.\n\n"


@pytest.fixture
def run(tmp_path: Path):
    """manage.py's cli with a fake model loader that records each load."""
    settings = Settings(
        index_dir=tmp_path / "index", source_dir=SEEDS, cache_dir=tmp_path / "c", dtype="float32"
    )
    loaded: list[str] = []

    def load_encoder(name: str, cache_dir: Path, dtype: str) -> FakeEncoder:
        loaded.append(name)
        return FakeEncoder(name=name)

    def invoke(*args: str):
        obj = {"settings": settings, "load_encoder": load_encoder, "load_cross_encoder": _none}
        return CliRunner().invoke(cli, list(args), obj=obj)

    invoke.loaded = loaded
    invoke.settings = settings
    return invoke


def _none(name: str) -> None:
    return None


# --- errors that need no model come first ---------------------------------------------


def test_an_empty_source_folder_fails_before_the_model_loads(run, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.csv").write_text("a,b")
    result = run("reindex", "--source", str(tmp_path / "empty"))
    assert result.exit_code == 1 and "no article files" in result.output
    assert run.loaded == []


def test_a_read_only_index_folder_fails_clearly_before_the_model_loads(
    run, tmp_path: Path, monkeypatch
) -> None:
    def read_only(*args: object, **kwargs: object):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr("indexer.preflight.tempfile.mkstemp", read_only)
    result = run("reindex")
    assert result.exit_code == 1 and run.loaded == []
    assert "cannot write the index in" in result.output and "read-only" in result.output
    assert "Errno" not in result.output and "Traceback" not in result.output


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_folder_without_write_permission_fails_clearly(run, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        result = run("reindex", "--index", str(locked / "index"))
    finally:
        locked.chmod(0o755)
    assert result.exit_code == 1 and "permission denied" in result.output and run.loaded == []


def test_a_reindex_already_running_fails_before_the_model_loads(run) -> None:
    with reindex_lock(run.settings.index_dir):
        result = run("reindex")
    assert result.exit_code == 1 and "another reindex" in result.output
    assert run.loaded == []


def test_ctrl_c_exits_with_130(run, tmp_path: Path, monkeypatch) -> None:
    def interrupted(*args: object, **kwargs: object):
        raise KeyboardInterrupt

    monkeypatch.setattr("indexer.build.reindex", interrupted)
    result = run("reindex")
    assert result.exit_code == 130


# --- the summary ----------------------------------------------------------------------


def test_the_summary_lists_skipped_and_changed_files_with_reasons(run, tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "ok.txt").write_text(TEXT * 3, encoding="utf-8")
    (source / "win.txt").write_bytes((TEXT * 3).encode("cp1251"))
    (source / "broken.md").symlink_to(tmp_path / "nowhere.md")
    os.mkfifo(source / "pipe.txt")
    (source / "image.md").write_text(TEXT + "![](data:image/png;base64," + "A" * 5000 + ")")
    result = run("reindex", "--source", str(source))
    assert result.exit_code == 0, result.output
    assert "indexed 3 articles" in result.output
    skipped, changed = result.output.split("skipped 2:")[1].split("read with changes 2:")
    assert "broken.md: broken link" in skipped and "pipe.txt: not a regular file" in skipped
    assert "win.txt: not UTF-8: read as cp1251" in changed
    assert "image.md: dropped 1 run(s)" in changed


def test_follow_symlinks_is_an_option_of_reindex(run, tmp_path: Path) -> None:
    source, outside = tmp_path / "src", tmp_path / "out"
    source.mkdir()
    outside.mkdir()
    (source / "ok.txt").write_text(TEXT, encoding="utf-8")
    (outside / "far.txt").write_text("Далёкая статья о порте.", encoding="utf-8")
    (source / "far.txt").symlink_to(outside / "far.txt")
    result = run("reindex", "--source", str(source))
    assert "indexed 1 articles" in result.output and "outside the source folder" in result.output
    result = run("reindex", "--source", str(source), "--follow-symlinks")
    assert "indexed 2 articles" in result.output, result.output


# --- cache prune ----------------------------------------------------------------------


def test_cache_prune_removes_only_vectors_no_build_on_disk_uses(run, tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    for version in range(3):  # the third build removes the first from disk
        (source / "a.txt").write_text(f"Первый абзац о порте.\n\nВерсия номер {version}.\n")
        assert run("reindex", "--source", str(source)).exit_code == 0
    dry = run("cache", "prune", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "would remove 1 vectors" in dry.output and "kept 3 vectors" in dry.output
    result = run("cache", "prune")
    assert result.exit_code == 0, result.output
    assert "removed 1 vectors" in result.output and "used by 2 index build(s)" in result.output
    assert "forgot 1 recorded build(s)" in result.output and "freed" in result.output
    again = run("cache", "prune")
    assert "removed 0 vectors" in again.output
    encoder = FakeEncoder(name=run.settings.model)
    report = reindex(source, tmp_path / "index", encoder, tmp_path / "c")
    assert report.encoded == 0  # what the current build uses is still cached


def test_cache_prune_refuses_when_no_recorded_build_is_on_disk(run, tmp_path: Path) -> None:
    assert "no embedding cache" in run("cache", "prune").output
    assert run("reindex").exit_code == 0
    for build in (tmp_path / "index.builds").iterdir():
        (build / "manifest.json").unlink()
    result = run("cache", "prune")
    assert result.exit_code == 1 and "nothing removed" in result.output


# --- serve: a busy port, Ctrl+C -------------------------------------------------------


def test_serve_on_a_busy_port_fails_before_the_model_loads(run) -> None:
    with socket.socket() as busy:
        busy.bind((HOST, 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run("serve", "--port", str(port))
    assert result.exit_code == 1 and "already in use" in result.output
    assert "serving" not in result.output and run.loaded == []


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("served")
    reindex(SEEDS, folder / "index", FakeEncoder(), folder / "cache")
    return folder / "index"


def _serve(index_dir: Path, port: int) -> subprocess.Popen:
    """A real `manage.py serve` process (tests/serve_child.py) with its output piped."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.serve_child", "--port", str(port), "--index", str(index_dir)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_a_real_server_on_a_busy_port_says_so_and_exits_non_zero(index_dir: Path) -> None:
    with socket.socket() as busy:
        busy.bind((HOST, 0))
        busy.listen()
        process = _serve(index_dir, busy.getsockname()[1])
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 1, output
    assert "already in use" in output and "serving" not in output and "Errno" not in output


def test_ctrl_c_stops_a_real_server_with_exit_code_130(index_dir: Path) -> None:
    process = _serve(index_dir, port := free_port())
    try:
        wait_until_up(Server(port, process))
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, output
    assert "Traceback" not in output

"""A 503 tells the public what is wrong without naming the server's files."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.build import reindex
from search.service import Searcher
from tests.conftest import SEEDS
from tests.fakes import FakeEncoder
from web import create_app

PATHS = ("/?q=порт", "/articles/x", "/api/search?q=порт", "/api/stats", "/api/health")


def _answers(index_dir: Path) -> list[tuple[int, str]]:
    client = create_app(searcher=Searcher(index_dir, FakeEncoder())).test_client()
    return [(r.status_code, r.get_data(as_text=True)) for r in map(client.get, PATHS)]


def test_no_index_answers_503_without_the_servers_path(tmp_path: Path, caplog) -> None:
    secret = tmp_path / "srv-secret-place" / "index"
    for status, body in _answers(secret):
        assert status in (200, 503)
        assert "srv-secret-place" not in body and str(tmp_path) not in body
        assert "manage.py reindex" in body
    assert "srv-secret-place" in caplog.text  # the operator still learns where


@pytest.mark.parametrize("damage", ["{not json", '{"format_version": 999}'])
def test_a_damaged_index_answers_503_without_the_servers_path(tmp_path, damage) -> None:
    index_dir = tmp_path / "srv-secret-place" / "index"
    reindex(SEEDS, index_dir, FakeEncoder(), tmp_path / "cache")
    (index_dir / "manifest.json").write_text(damage)
    answers = _answers(index_dir)
    assert {status for status, _ in answers} <= {200, 503}
    assert all("srv-secret-place" not in body for _, body in answers)

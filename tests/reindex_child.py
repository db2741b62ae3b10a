"""Run by test_build: a reindex whose encoder is slow, so the test can kill it midway."""

import sys
import time
from pathlib import Path

from indexer.build import reindex
from tests.fakes import FakeEncoder


class SlowEncoder(FakeEncoder):
    """Announces that encoding started, then takes its time."""

    def __init__(self, marker: Path) -> None:
        super().__init__()
        self.marker = marker

    def encode_passages(self, texts):
        self.marker.touch()
        time.sleep(0.2)
        return super().encode_passages(texts)


if __name__ == "__main__":
    source, index_dir, cache_dir, marker = map(Path, sys.argv[1:5])
    reindex(source, index_dir, SlowEncoder(marker), cache_dir, full=True)

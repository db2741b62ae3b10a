"""Run `manage.py serve` (waitress, the production path) with the fake encoder.

The reliability tests need a real server on a real socket, but not the real model: this
runs manage.py's own `serve` command with FakeEncoder put where the model loader would be
(the hook manage.py offers tests), so it starts in about a second.

    python -m tests.serve_child --port 8123 --index /tmp/x/index [serve options]
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from tests.fakes import FakeEncoder


def fake_loader(model: str, cache_dir: Path, dtype: str) -> Any:
    """Stands in for encoders.encoder.load_encoder."""
    return FakeEncoder()


# Indexes served here are built by tests without cross-lingual vectors.
OBJ = {"load_encoder": fake_loader, "load_cross_encoder": lambda name: None}


def main(argv: list[str]) -> None:
    """`manage.py serve` with these arguments, over the fake encoder."""
    import manage

    manage.cli.main(["serve", *argv], prog_name="manage.py", obj=OBJ)


if __name__ == "__main__":
    main(sys.argv[1:])

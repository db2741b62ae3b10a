"""Run `manage.py reindex --watch` with the fake encoder, as tests/serve_child.py runs
`serve`: the real command and loop, without the real model's load.

    python -m tests.watch_child --source /tmp/x/src --index /tmp/x/index [options]
"""

from __future__ import annotations

import sys

from tests.serve_child import OBJ


def main(argv: list[str]) -> None:
    """`manage.py reindex --watch` with these arguments, over the fake encoder."""
    import manage

    manage.cli.main(["reindex", "--watch", *argv], prog_name="manage.py", obj=OBJ)


if __name__ == "__main__":
    main(sys.argv[1:])

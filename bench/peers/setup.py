"""The peers' own virtual environments: made once under var/peers/venv-<name>, skipped when
ready.

Each gets torch 2.13.0 first (the CPU wheel this machine's pip finds locally: a torch that
a peer's requirements pulled from the index would bring gigabytes of CUDA libraries), then
bench/peers/requirements-<name>.txt, pinned. None of it is in poisk's requirements.txt.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
VENVS = ROOT / "var" / "peers"
TORCH = "torch==2.13.0"
READY = "poisk-peer-ready"  # written last: a venv without it is made again


def venv_python(name: str) -> Path:
    """The python of peer `name`'s virtual environment."""
    return VENVS / f"venv-{name}" / "bin" / "python"


def ensure_venv(name: str) -> Path:
    """Peer `name`'s python, making its virtual environment first when it is not ready."""
    folder = VENVS / f"venv-{name}"
    if (folder / READY).exists():
        print(f"setup: {folder.relative_to(ROOT)} is ready, skipped", file=sys.stderr)
        return venv_python(name)
    requirements = HERE / f"requirements-{name}.txt"
    steps = [
        ("creating the virtual environment", [sys.executable, "-m", "venv", str(folder)]),
        (f"installing {TORCH} (CPU)", _pip(folder, TORCH)),
        (f"installing {requirements.name}", _pip(folder, "-r", str(requirements))),
    ]
    for n, (what, command) in enumerate(steps, start=1):
        print(f"setup {name} [{n}/{len(steps)}]: {what} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        subprocess.run(command, check=True)
        print(f"  done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    (folder / READY).write_text("ready\n", encoding="utf-8")
    return venv_python(name)


def _pip(folder: Path, *args: str) -> list[str]:
    """A quiet `pip install` command in the virtual environment at `folder`."""
    return [str(folder / "bin" / "python"), "-m", "pip", "install", "-q", *args]

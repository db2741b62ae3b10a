"""Peak memory of `manage.py reindex` over hostile files, with the real models on.

Run: .venv/bin/python -m bench.hostile [--case NAME ...] [--keep DIR]

Each case is the two seed articles plus one hostile file, indexed by `manage.py reindex
--full` in a child process with the default models (multilingual-e5-small and USE
multilingual v3). The child's peak resident memory comes from the kernel (wait4's
ru_maxrss), so it counts the whole process: Python, torch, both models, the corpus.
The budget is 2 GB per case (issue 17; docs/corpus.md has the recorded figures).

Cases:
- seeds: the seeds alone, the models' own footprint;
- token-2mb: a Markdown note with an inline image, one 2 MB base64 token;
- token-50mb: a 50 MB file without a space;
- jsonl-line-50mb: a .jsonl line of 50 MB;
- article-50mb: a 50 MB article of distinct paragraphs of prose (indexed up to its first
  1,000,000 characters: about 4,800 paragraphs, so this case takes minutes).
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
MB = 1_000_000
BUDGET_MB = 2_000


def _token_2mb(folder: Path) -> None:
    image = base64.b64encode(os.urandom(3 * MB // 2)).decode()  # 2,000,000 characters
    text = "# Заметка с картинкой\n\nПорт Чанкай на снимке.\n\n"
    text += f"![](data:image/png;base64,{image})\n"
    (folder / "note.md").write_text(text, encoding="utf-8")


def _token_50mb(folder: Path) -> None:
    with open(folder / "blob.txt", "wb") as out:
        for _ in range(50):
            out.write(base64.b64encode(os.urandom(3 * MB // 4)))


def _prose(i: int) -> str:
    """A distinct paragraph of Russian prose (the embedding cache cannot serve it)."""
    return (
        f"Абзац номер {i}: порт Чанкай принял судно из Шанхая, сообщает агентство. "
        f"Министр заявил, что грузооборот за {i % 12 + 1}-й месяц вырос на {i % 97} процентов, "
        f"а новые причалы откроют к {2026 + i % 5} году. Эксперты ждут роста торговли.\n\n"
    )


def _article_50mb(folder: Path) -> None:
    with open(folder / "book.txt", "wb") as out:
        i = 0
        while out.tell() < 50 * MB:
            out.write(_prose(i).encode())
            i += 1


def _jsonl_line_50mb(folder: Path) -> None:
    with open(folder / "feed.jsonl", "wb") as out:
        out.write(b'{"id": "huge", "text": "')
        i = 0
        while out.tell() < 50 * MB:
            out.write(_prose(i).replace("\n", "\\n").encode())
            i += 1
        out.write('"}\n{"id": "small", "text": "Порт Чанкай открыт."}\n'.encode())


CASES: dict[str, Callable[[Path], None]] = {
    "seeds": lambda folder: None,
    "token-2mb": _token_2mb,
    "token-50mb": _token_50mb,
    "jsonl-line-50mb": _jsonl_line_50mb,
    "article-50mb": _article_50mb,  # last: about 4,800 paragraphs to encode (minutes)
}


@dataclass
class Result:
    """One case's run."""

    case: str
    file_mb: float
    peak_mb: float
    seconds: float
    code: int
    summary: list[str]


def run_case(name: str, work: Path, cache: Path) -> Result:
    """Build the case's source folder and reindex it in a child process; its peak RSS."""
    shutil.rmtree(work / name, ignore_errors=True)  # a kept folder from an earlier run
    source = work / name / "source"
    source.mkdir(parents=True)
    for seed in SEEDS.iterdir():
        (source / seed.name).write_bytes(seed.read_bytes())
    CASES[name](source)
    extra = sum(p.stat().st_size for p in source.iterdir() if p.name not in _seed_names())
    command = [sys.executable, "manage.py", "reindex", "--full", "--source", str(source)]
    command += ["--index", str(work / name / "index")]
    env = {**os.environ, "POISK_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    env.pop("POISK_CROSS_MODEL", None)  # the default: USE on
    started = time.perf_counter()
    child = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    output = child.stdout.read() if child.stdout else ""
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    summary = [line for line in output.splitlines() if line.startswith(("  ", "indexed", "no "))]
    peak = usage.ru_maxrss / 1024  # KiB on Linux
    return Result(name, extra / MB, peak, seconds, child.returncode, summary)


def _seed_names() -> set[str]:
    return {p.name for p in SEEDS.iterdir()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", action="append", choices=list(CASES), help="(repeatable)")
    parser.add_argument("--keep", type=Path, help="Work in this folder and keep it.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        cache = work / "cache"  # the converted model is made once, by the first case
        head = f"{'case':<16} {'file':>8} {'peak RSS':>10} {'time':>8}  exit"
        print(f"{head}  (budget {BUDGET_MB} MB)")
        for name in args.case or list(CASES):
            r = run_case(name, work, cache)
            verdict = "ok" if r.peak_mb <= BUDGET_MB and r.code == 0 else "OVER/FAILED"
            print(
                f"{r.case:<16} {r.file_mb:>6.1f}MB {r.peak_mb:>8.0f}MB {r.seconds:>7.1f}s"
                f"  {r.code:>4}  {verdict}",
                flush=True,
            )
            for line in r.summary:
                print(f"{'':<18}{line}", flush=True)


if __name__ == "__main__":
    main()

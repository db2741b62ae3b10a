"""What the commands print: progress bars, search hits and the summary of a reindex."""

from __future__ import annotations

import html
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click


@contextmanager
def progress_bar(label: str, total: int) -> Iterator[Callable[[int], None]]:
    """A click progress bar on stderr, advanced by the callable it yields."""
    with click.progressbar(
        length=total, label=f"{label:<9}", file=sys.stderr, show_pos=True, show_eta=total > 0
    ) as bar:
        yield bar.update


def print_report(report: Any, source: Path, index_dir: Path) -> None:
    """The summary a reindex ends with."""
    click.echo(
        f"indexed {report.articles} articles, {report.paragraphs} paragraphs from {source} "
        f"in {report.seconds:.1f} s"
    )
    click.echo(f"encoded {report.encoded} paragraphs, {report.cached} taken from the cache")
    unchanged = f" ({report.files_unchanged} unchanged, not read)" if report.files_unchanged else ""
    click.echo(f"read {report.files_read} files{unchanged}")
    shards = f" in {report.shards} shards" if report.shards > 1 else ""
    into = "its new one" if report.shards == 1 else "its new ones"
    merged = f", {report.merged} merged into {into}" if report.merged else ""
    click.echo(f"segments {report.segments}{shards}{merged}")
    for title, items in (("skipped", report.skipped), ("read with changes", report.notes)):
        if items:
            click.echo(f"{title} {len(items)}:")
            for s in items:
                where = f"{s.source}:{s.line}" if s.line else s.source
                click.echo(f"  {where}: {s.reason}")
    click.echo(f"index {index_dir} -> {report.build}")


def format_hit(hit: Any) -> str:
    """A hit as terminal lines: rank, title, date, id, the snippet with marked words."""
    legs = [
        f"{name} #{leg.rank} {leg.score:.3f}"
        for name, leg in (("bm25", hit.bm25), ("semantic", hit.semantic))
        if leg
    ]
    marked = re.sub(
        r"<mark>(.*?)</mark>",
        lambda m: click.style(m.group(1), bold=True, fg="yellow"),
        hit.snippet,
    )
    head = click.style(f"{hit.rank:>3}. {hit.title}", bold=True)
    more = f"     + {len(hit.more)} more from this article\n" if hit.more else ""
    if hit.also_in:
        outlets = ", ".join(other.outlet or other.article_id for other in hit.also_in)
        more += f"     also in: {outlets}\n"
    return (
        f"{head}\n     {hit.date or 'no date'} · {hit.id} · score {hit.score:.4f} · "
        f"{' · '.join(legs)}\n     {html.unescape(marked)}\n{more}"
    )

"""poisk's command line: `python manage.py reindex` (more commands: `--help`)."""

from __future__ import annotations

import functools
import html
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from core.config import Settings
from core.errors import SearchError

DEBUG = os.environ.get("POISK_DEBUG") == "1"


def one_line_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn any failure into a one-line message and exit code 1 (POISK_DEBUG=1: traceback)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (click.ClickException, click.Abort, click.exceptions.Exit):
            raise
        except SearchError as exc:
            raise click.ClickException(str(exc)) from exc
        except Exception as exc:  # the edge of the program: nothing escapes as a traceback
            if DEBUG:
                raise
            message = f"{type(exc).__name__}: {exc} (POISK_DEBUG=1 shows the traceback)"
            raise click.ClickException(" ".join(message.split())) from exc

    return wrapper


@contextmanager
def progress_bar(label: str, total: int) -> Iterator[Callable[[int], None]]:
    """A click progress bar on stderr, advanced by the callable it yields."""
    with click.progressbar(
        length=total, label=f"{label:<9}", file=sys.stderr, show_pos=True, show_eta=total > 0
    ) as bar:
        yield bar.update


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def cli(ctx: click.Context) -> None:
    """poisk: hybrid (BM25 + multilingual embeddings) search over news articles."""
    ctx.ensure_object(dict)
    ctx.obj.setdefault("settings", Settings.from_env())


def _load_encoder(ctx: click.Context, model: str, settings: Settings) -> Any:
    """The encoder for `model` in the configured dtype; tests put a fake loader into ctx.obj."""
    loader = ctx.obj.get("load_encoder")
    if loader is None:
        from encoders.encoder import load_encoder as loader  # imports torch: only when needed
    return loader(model, settings.cache_dir, settings.dtype)


def _load_cross(ctx: click.Context, settings: Settings) -> Any:
    """The configured cross-lingual encoder, or None; tests put a fake loader into ctx.obj."""
    loader = ctx.obj.get("load_cross_encoder")
    if loader is None:
        from encoders.crosslingual import load_cross_encoder as loader
    return loader(settings.cross_model)


def _dtype(settings: Settings, model: str) -> str:
    """What will compute `model`'s vectors here: the runtime and dtype settings resolved
    against this CPU ("float32", "bfloat16", "onnx-fp32" or "onnx-int8", as manifests say)."""
    from encoders.encoder import resolve_precision  # "auto" may ask torch about the CPU

    return resolve_precision(settings.runtime, settings.dtype, model)


@cli.command()
@click.option(
    "--source",
    type=click.Path(path_type=Path),
    help="Folder of articles (.txt, .md, .jsonl). Default: $POISK_SOURCE or seeds/.",
)
@click.option(
    "--index",
    "index_dir",
    type=click.Path(path_type=Path),
    help="Index folder. Default: $POISK_INDEX or var/index.",
)
@click.option(
    "--model",
    help="Embedding model: the bundled multilingual-e5-small (default, "
    "or $POISK_MODEL), or a sentence-transformers name or folder.",
)
@click.option("--full", is_flag=True, help="Re-encode every paragraph, ignoring the cache.")
@click.option(
    "--if-stale",
    is_flag=True,
    help="Do nothing when the index is already built from these files and model.",
)
@click.pass_context
@one_line_errors
def reindex(
    ctx: click.Context,
    source: Path | None,
    index_dir: Path | None,
    model: str | None,
    full: bool,
    if_stale: bool,
) -> None:
    """Build the index from a folder of articles and swap it in atomically."""
    from indexer.build import is_current
    from indexer.build import reindex as build

    settings: Settings = ctx.obj["settings"]
    source = source or settings.source_dir
    index_dir = index_dir or settings.index_dir
    model = model or settings.model
    if (
        if_stale
        and not full
        and is_current(index_dir, source, model, _dtype(settings, model), settings.cross_model)
    ):
        click.echo(f"index at {index_dir} is up to date with {source}")
        return
    if not source.is_dir():  # before the model's seconds-long load
        raise click.ClickException(f"source folder {source} does not exist or is not a folder")
    started = time.perf_counter()
    encoder = _load_encoder(ctx, model, settings)
    cross = _load_cross(ctx, settings)
    loaded = f"model {model}" + (f" and {cross.name}" if cross else "")
    click.echo(f"{loaded} loaded in {time.perf_counter() - started:.1f} s")
    report = build(
        source, index_dir, encoder, settings.cache_dir, full=full, progress=progress_bar,
        cross_encoder=cross,
    )  # fmt: skip
    _print_report(report, source, index_dir)


def _print_report(report: Any, source: Path, index_dir: Path) -> None:
    """The summary a reindex ends with."""
    click.echo(
        f"indexed {report.articles} articles, {report.paragraphs} paragraphs from {source} "
        f"in {report.seconds:.1f} s"
    )
    click.echo(f"encoded {report.encoded} paragraphs, {report.cached} taken from the cache")
    if report.skipped:
        click.echo(f"skipped {len(report.skipped)}:")
        for s in report.skipped:
            where = f"{s.source}:{s.line}" if s.line else s.source
            click.echo(f"  {where}: {s.reason}")
    click.echo(f"index {index_dir} -> {report.build}")


def _searcher(ctx: click.Context, index_dir: Path | None) -> Any:
    """A Searcher over `index_dir` (or the configured index) with the configured models;
    tests put fake model loaders into ctx.obj."""
    from search.service import Searcher

    settings: Settings = ctx.obj["settings"]
    return Searcher.open(
        settings, index_dir, ctx.obj.get("load_encoder"), ctx.obj.get("load_cross_encoder")
    )


def request_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """A click option for every search parameter but the query, generated from the request
    model (search/contract.py): values are parsed and checked as the API's query string is,
    so the CLI takes exactly what the API takes and answers with the same messages."""
    from search import contract

    for name, field in reversed(list(contract.query_options().items())):
        command = click.option(
            "--" + name.replace("_", "-"),
            name,
            metavar=contract.base_type(field).__name__.upper()
            if not contract.choices(field)
            else "|".join(contract.choices(field)),
            help=_option_help(field),
        )(command)
    return command


def _option_help(field: Any) -> str:
    """An option's help: the field's description, its range, its default."""
    from search import contract

    text = field.description or ""
    low, high = contract.bounds(field)
    if low is not None:
        text += f" ({low}-{high})"
    default = field.default
    if default is not None:
        text += f"; default {default}"
    return text[:1].upper() + text[1:] + "."


@cli.command()
@click.argument("text")
@request_options
@click.option("--index", "index_dir", type=click.Path(path_type=Path), help="Index folder.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON instead.")
@click.pass_context
@one_line_errors
def search(
    ctx: click.Context, text: str, index_dir: Path | None, as_json: bool, **params: Any
) -> None:
    """Search the index from the terminal."""
    from search.contract import SearchRequest

    given = {name: value for name, value in params.items() if value is not None}
    request = SearchRequest.from_query({"q": text, **given})
    result = _searcher(ctx, index_dir).search(request)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    found = f"{result.total} found for {result.query!r} ({result.mode})"
    click.echo(f"{found} in {result.took_ms} ms")
    for hit in result.results:
        click.echo(_format_hit(hit))


def _format_hit(hit: Any) -> str:
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
    return (
        f"{head}\n     {hit.date or 'no date'} · {hit.id} · score {hit.score:.4f} · "
        f"{' · '.join(legs)}\n     {html.unescape(marked)}\n"
    )


@cli.command()
@click.option(
    "--queries",
    "queries_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSONL of {query, relevant[, lang, kind, split]}.",
)
@click.option(
    "--mode",
    "modes",
    multiple=True,
    type=click.Choice(["bm25", "semantic", "hybrid"]),
    help="Only these modes (repeatable). Default: all.",
)
@click.option("--split", help="Only queries of this split (e.g. tune or test).")
@click.option(
    "--alphas",
    default="0.3,0.5,0.7",
    show_default=True,
    help="Convex-fusion weights of the semantic leg to sweep.",
)
@click.option("--index", "index_dir", type=click.Path(path_type=Path), help="Index folder.")
@click.option("--worst", type=int, default=0, help="Also list the N worst queries of hybrid.")
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the report as JSON here.",
)
@click.pass_context
@one_line_errors
def evaluate(
    ctx: click.Context,
    queries_file: Path,
    modes: tuple[str, ...],
    split: str | None,
    alphas: str,
    index_dir: Path | None,
    worst: int,
    json_out: Path | None,
) -> None:
    """Measure retrieval quality on labelled queries, per configuration and language."""
    from eval import harness as ev

    queries = ev.load_queries(queries_file, split)
    if not queries:
        raise click.ClickException(
            f"no queries in {queries_file}" + (f" for split {split}" if split else "")
        )
    searcher = _searcher(ctx, index_dir)
    cross = searcher.cross is not None and searcher.current().cross is not None
    configs = [
        c
        for c in ev.default_configs([float(a) for a in alphas.split(",") if a], cross)
        if not modes or c.mode in modes
    ]
    searcher.encoder = ev.CachedQueryEncoder(searcher.encoder)
    if searcher.cross is not None:
        searcher.cross = ev.CachedQueryEncoder(searcher.cross)
    with progress_bar("queries", len(queries) * len(configs)) as advance:
        report = ev.evaluate(searcher, queries, configs, advance)
    click.echo(ev.format_table(report))
    if worst:
        config = next(c.name for c in configs if c.mode == "hybrid" and c.fusion == "coverage")
        click.echo("\n" + ev.worst(report, queries, config, worst))
    if json_out:
        payload = {
            "queries": str(queries_file),
            "split": split,
            "counts": report.counts,
            "scores": report.scores,
            "first_relevant": report.first_relevant,
        }
        json_out.write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")


@cli.command()
@click.option("--index", "index_dir", type=click.Path(path_type=Path), help="Index folder.")
@click.pass_context
@one_line_errors
def stats(ctx: click.Context, index_dir: Path | None) -> None:
    """What the index holds and how it was built (no model needed)."""
    from index.format import current_build
    from index.manifest import Manifest

    build = current_build(index_dir or ctx.obj["settings"].index_dir)
    click.echo(json.dumps(asdict(Manifest.read(build)), ensure_ascii=False, indent=2))


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--threads",
    default=16,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Requests served at once by each worker; queries waiting together are encoded in "
    "one batch.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="Server processes sharing the port, each with its own models (1-1.8 GB each, "
    "docs/performance.md); a dead one is restarted. Default: one per core.",
)
@click.option("--index", "index_dir", type=click.Path(path_type=Path), help="Index folder.")
@click.pass_context
@one_line_errors
def serve(
    ctx: click.Context,
    host: str,
    port: int,
    threads: int,
    workers: int | None,
    index_dir: Path | None,
) -> None:
    """Serve the web page and the JSON API with waitress (a production WSGI server)."""
    from web import workers as pool

    workers = workers or pool.default_workers()
    if workers > 1 and pool.worker_slot() is None:
        _supervise(ctx.obj["settings"], host, port, workers, index_dir)
        return
    _serve_one(ctx, host, port, threads, index_dir, pool.worker_slot())


def _supervise(
    settings: Settings, host: str, port: int, workers: int, index_dir: Path | None
) -> None:
    """Run `workers` copies of this command on the port until SIGTERM/SIGINT (web/workers.py)."""
    from web import workers as pool

    try:  # held while serving: the port stays ours while every worker is restarting
        reserved = pool.reuseport_socket(host, port, listen=False)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    where = index_dir or settings.index_dir
    click.echo(
        f"poisk serving {where} on http://{host}:{port}/ with {workers} workers (Ctrl+C stops)"
    )
    with reserved:
        supervisor = pool.Supervisor(
            pool.worker_command(), workers, pool.worker_env(workers), log=click.echo
        )
        status = supervisor.run()
    if status:
        raise click.ClickException("workers kept failing at start; see their messages above")


def _serve_one(
    ctx: click.Context, host: str, port: int, threads: int, index_dir: Path | None, slot: int | None
) -> None:
    """One waitress server: on host:port itself, or as worker `slot` on a shared port."""
    import waitress

    from web import MAX_BODY_BYTES, create_app
    from web.workers import reuseport_socket

    settings: Settings = ctx.obj["settings"]
    searcher = _searcher(ctx, index_dir)  # the model loads once, before the first request
    app = create_app(settings, searcher)
    options: dict[str, Any] = {
        "threads": threads,
        "ident": "poisk",
        "max_request_body_size": MAX_BODY_BYTES,  # refused by waitress before it reads a body
    }
    if slot is None:
        click.echo(f"poisk serving {searcher.index_dir} on http://{host}:{port}/ (Ctrl+C stops)")
        waitress.serve(app, host=host, port=port, **options)
        return
    sock = reuseport_socket(host, port)  # after the model loaded: no request waits for it
    click.echo(f"worker {slot} (pid {os.getpid()}) serving on http://{host}:{port}/")
    sys.stdout.flush()  # the supervisor's log (or a test) learns at once that it listens
    waitress.serve(app, sockets=[sock], **options)


if __name__ == "__main__":
    cli()

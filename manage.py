"""poisk's command line: `python manage.py reindex` (more commands: `--help`)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from cli.errors import one_line_errors
from cli.options import request_options
from cli.output import format_hit, print_report, progress_bar
from cli.serving import check_port, interruptible, serve_app, supervise
from core.config import Settings


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
    against this CPU for passages ("float32", "bfloat16" or "onnx-" and a precision, as
    manifests say)."""
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
@click.option(
    "--full",
    is_flag=True,
    help="Rebuild the whole index as one segment, re-encoding every paragraph (ignoring "
    "the cache). Default: only new and edited articles are indexed, in a new segment.",
)
@click.option(
    "--if-stale",
    is_flag=True,
    help="Do nothing when the index is already built from these files and model.",
)
@click.option(
    "--follow-symlinks",
    is_flag=True,
    help="Also read links to files and folders outside the source folder (default: skipped).",
)
@click.option(
    "--no-reprints",
    is_flag=True,
    help="Do not group reprints of one story (default: grouped, unless $POISK_REPRINTS=off).",
)
@click.option(
    "--shards",
    type=click.IntRange(1),
    metavar="N",
    help="Split the index into N shards, each segment holding one shard's articles "
    "(a changed count rebuilds in full). Default: $POISK_SHARDS, else as many as the "
    "current index, else 1.",
)
@click.option(
    "--watch",
    is_flag=True,
    help="After reindexing, keep watching the source folder (its file events, else "
    "polls) and reindex (incrementally) whenever its files change, one line a reindex, "
    "until Ctrl+C.",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    metavar="SECONDS",
    default=2.0,
    show_default=True,
    help="Seconds between two polls of the source folder with --watch where the file "
    "system gives no events; with events, the folder is listed on each change and at "
    "least every max(SECONDS, 60).",
)
@click.option(
    "--ray",
    "ray_address",
    metavar="ADDRESS",
    help="Encode the paragraphs not in the cache on Ray: local (a Ray instance on this "
    "machine), auto (the running cluster, or $RAY_ADDRESS) or an address (host:port, "
    "ray://host:port). See docs/distributed.md.",
)
@click.option(
    "--ray-actors",
    type=click.IntRange(1),
    metavar="N",
    help="Encoding actors on Ray. Default: one per GPU, else one per node.",
)
@click.option(
    "--ray-gpus/--no-ray-gpus",
    default=None,
    help="Give each Ray actor a GPU (CUDA). Default: when the cluster has GPUs.",
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
    follow_symlinks: bool,
    no_reprints: bool,
    shards: int | None,
    watch: bool,
    interval: float,
    ray_address: str | None,
    ray_actors: int | None,
    ray_gpus: bool | None,
) -> None:
    """Index a folder of articles and swap the new build in atomically: the new and edited
    articles in new segments when the index fits the models (else, and with --full, the
    whole folder anew). Only files new or changed since the current build are read. With
    --watch, go on reindexing whenever the folder's files change."""
    from indexer import preflight
    from indexer.build import is_current
    from indexer.build import reindex as build
    from indexer.progress import silent

    settings: Settings = ctx.obj["settings"]
    source = source or settings.source_dir
    index_dir = index_dir or settings.index_dir
    model = model or settings.model
    shards = shards or settings.shards
    grouped = settings.reprints and not no_reprints

    def current() -> bool:
        dtype, cross_model = _dtype(settings, model), settings.cross_model
        return is_current(
            index_dir, source, model, dtype, cross_model, follow_symlinks, grouped, shards
        )

    if if_stale and not full and not watch and current():
        click.echo(f"index at {index_dir} is up to date with {source}")
        return
    preflight.check(source, index_dir, follow_symlinks)  # before the models' seconds-long load
    with _ray_prefill(ctx, ray_address, ray_actors, ray_gpus, model) as prefill:
        encoder, cross = _load_models(ctx, model, settings)

        def run(first: bool) -> Any:  # --full: the first reindex only; --watch: one line each
            return build(
                source, index_dir, encoder, settings.cache_dir, full=full and first,
                progress=silent if watch else progress_bar, cross_encoder=cross,
                follow_symlinks=follow_symlinks, prefill=prefill, reprints=grouped,
                shards=shards,
            )  # fmt: skip

        if watch:
            from indexer.watch import watch as watching

            stale = current if if_stale and not full else None
            with interruptible():  # to Ctrl+C
                watching(source, run, click.echo, interval, follow_symlinks, stale)
            return
        report = run(True)
    print_report(report, source, index_dir)


def _load_models(ctx: click.Context, model: str, settings: Settings) -> tuple[Any, Any]:
    """The embedding model and the cross-lingual one (None without), timed."""
    started = time.perf_counter()
    encoder = _load_encoder(ctx, model, settings)
    cross = _load_cross(ctx, settings)
    loaded = f"model {model}" + (f" and {cross.name}" if cross else "")
    click.echo(f"{loaded} loaded in {time.perf_counter() - started:.1f} s")
    return encoder, cross


@contextmanager
def _ray_prefill(
    ctx: click.Context, address: str | None, actors: int | None, gpus: bool | None, model: str
) -> Iterator[Any]:
    """Connected to Ray for the block when `address` is given (before the models load, so
    that a wrong address is known at once), yielding the build's prefill hook; else None.
    Tests put the actors' model loaders into ctx.obj["ray_loaders"]."""
    if address is None:
        yield None
        return
    from indexer.distributed import ActorPlan, RayPrefill
    from indexer.ray_actor import default_loaders
    from indexer.ray_cluster import ray_session

    settings: Settings = ctx.obj["settings"]
    with ray_session(address) as info:
        plan = ActorPlan.for_cluster(info, actors, gpus)
        loaders = ctx.obj.get("ray_loaders") or default_loaders(
            model, settings.cache_dir, _dtype(settings, model), settings.cross_model, plan.gpus
        )
        offers = f"{info.nodes} node(s), {info.cpus:g} CPU(s), {info.gpus:g} GPU(s)"
        click.echo(f"Ray at {address}: {offers}; encoding on {plan.describe()}")
        yield RayPrefill(info, plan, loaders)


def _searcher(ctx: click.Context, index_dir: Path | None) -> Any:
    """A Searcher over `index_dir` (or the configured index) with the configured models;
    tests put fake model loaders into ctx.obj."""
    from search.service import Searcher

    settings: Settings = ctx.obj["settings"]
    return Searcher.open(
        settings, index_dir, ctx.obj.get("load_encoder"), ctx.obj.get("load_cross_encoder")
    )


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
    """Search the index from the terminal.

    TEXT may use the query syntax: "a phrase", -word (put -- before a TEXT that starts
    with -), a OR b (docs/news-search.md, "Query syntax").
    """
    from search.contract import SearchRequest

    given = {name: value for name, value in params.items() if value is not None}
    request = SearchRequest.from_query({"q": text, **given})
    result = _searcher(ctx, index_dir).search(request)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    plus = "+" if result.total_relation == "gte" else ""
    found = f"{result.total}{plus} found for {result.query!r} ({result.mode})"
    click.echo(f"{found} in {result.took_ms} ms")
    for hit in result.results:
        click.echo(format_hit(hit))


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
    "--by",
    type=click.Choice(["lang", "kind"]),
    default="lang",
    show_default=True,
    help="Break the scores down by query language or by query kind.",
)
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
    by: str,
    json_out: Path | None,
) -> None:
    """Measure retrieval quality on labelled queries, per configuration and language (or
    query kind, with --by kind)."""
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
        report = ev.evaluate(searcher, queries, configs, advance, by)
    click.echo(ev.format_table(report))
    if worst:
        config = next(c.name for c in configs if c.mode == "hybrid" and c.fusion == "coverage")
        click.echo("\n" + ev.worst(report, queries, config, worst))
    if json_out:
        payload = {
            "queries": str(queries_file),
            "split": split,
            "by": by,
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
    from index.manifest import Manifest
    from index.swap import current_build

    build = current_build(index_dir or ctx.obj["settings"].index_dir)
    click.echo(json.dumps(Manifest.read(build).model_dump(), ensure_ascii=False, indent=2))


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
@click.option(
    "--ray",
    "ray_address",
    help="Serve a sharded index on Ray Serve: local (a cluster started here), auto, or the "
    "cluster's address. See docs/distributed.md.",
)
@click.option(
    "--shards",
    type=click.IntRange(1, 256),
    help="With --ray: the index's shard count (`reindex --shards N`); default: the index's.",
)
@click.option(
    "--replicas",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="With --ray: replicas of each shard; searches go on while one is lost.",
)
@click.option(
    "--shard-timeout",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0.1, 600),
    help="With --ray: seconds a shard may take to answer, retries included, before a "
    "search fails with 503 naming it.",
)
@click.pass_context
@one_line_errors
def serve(
    ctx: click.Context,
    host: str,
    port: int,
    threads: int,
    workers: int | None,
    index_dir: Path | None,
    ray_address: str | None,
    shards: int | None,
    replicas: int,
    shard_timeout: float,
) -> None:
    """Serve the web page and the JSON API with waitress (a production WSGI server), or
    with --ray on a Ray cluster, each shard of the index on its own replicas."""
    from web import workers as pool

    if ray_address is not None:
        layout = (shards, replicas, shard_timeout)
        _serve_on_ray(ctx, ray_address, host, port, index_dir, layout)
        return
    if shards is not None or replicas != 1:
        raise click.UsageError("--shards and --replicas serve on Ray: add --ray ADDRESS")
    workers = workers or pool.default_workers()
    if workers > 1 and pool.worker_slot() is None:
        supervise(host, port, workers, index_dir or ctx.obj["settings"].index_dir)
        return
    _serve_one(ctx, host, port, threads, index_dir, pool.worker_slot())


def _serve_one(
    ctx: click.Context, host: str, port: int, threads: int, index_dir: Path | None, slot: int | None
) -> None:
    """One waitress server: on host:port itself, or as worker `slot` on a shared port."""
    from web import create_app

    settings: Settings = ctx.obj["settings"]
    if slot is None:  # a worker shares the port its supervisor holds
        check_port(host, port)  # a port in use is known before the models' seconds-long load
    searcher = _searcher(ctx, index_dir)  # the model loads once, before the first request
    serve_app(create_app(settings, searcher), host, port, threads, slot, searcher.index_dir)


def _serve_on_ray(
    ctx: click.Context,
    address: str,
    host: str,
    port: int,
    index_dir: Path | None,
    layout: tuple[int | None, int, float],
) -> None:
    """The sharded index on Ray Serve until Ctrl+C; `layout` is (shards or None for the
    index's count, replicas a shard, shard timeout). Tests put fake model loaders into
    ctx.obj."""
    import dataclasses

    from cluster import run
    from index.sharded import check_count, shards_of
    from indexer.ray_cluster import LOCAL, ray_session

    settings: Settings = ctx.obj["settings"]
    if index_dir is not None:
        settings = dataclasses.replace(settings, index_dir=index_dir)
    shards, replicas, timeout_s = layout
    built = shards_of(settings.index_dir)
    shards = shards or built
    check_count(built, shards, settings.index_dir)
    if address == LOCAL:
        check_port(host, port)
    loaders = {k: ctx.obj[k] for k in ("load_encoder", "load_cross_encoder") if k in ctx.obj}
    with ray_session(address) as info:
        try:
            run.start(settings, shards, replicas, host, port, timeout_s, loaders or None)
            click.echo(
                f"poisk serving {settings.index_dir} on http://{host}:{port}/: {shards} "
                f"shard(s) x {replicas} replica(s) on Ray ({info.nodes} node(s)); Ctrl+C stops"
            )
            sys.stdout.flush()
            with interruptible():
                run.wait_for_signal()
        finally:
            run.stop()


@cli.group()
def cache() -> None:
    """The embedding cache: vectors kept between reindexes ($POISK_CACHE)."""


@cache.command()
@click.option("--dry-run", is_flag=True, help="Say what would be removed; remove nothing.")
@click.pass_context
@one_line_errors
def prune(ctx: click.Context, dry_run: bool) -> None:
    """Remove the cached vectors no index build on disk uses, and compact the cache.

    Kept: the vectors of every build still on disk that a reindex recorded (each index's
    current build and the one before it). Removed: all others, e.g. of deleted indexes,
    of edited or removed paragraphs, of models no longer used.
    """
    from indexer.limits import size_words
    from indexer.prune import prune_cache

    report = prune_cache(ctx.obj["settings"].cache_dir, dry_run)
    click.echo(f"kept {report.kept:,} vectors used by {len(report.builds)} index build(s):")
    for build in report.builds:
        click.echo(f"  {build}")
    if report.forgotten:
        click.echo(f"forgot {len(report.forgotten)} recorded build(s) no longer on disk:")
        for build in report.forgotten:
            click.echo(f"  {build}")
    verb = "would remove" if dry_run else "removed"
    click.echo(f"{verb} {report.removed:,} vectors that no build on disk uses")
    freed = size_words(max(report.bytes_before - report.bytes_after, 0))
    sizes = f"{size_words(report.bytes_before)} -> {size_words(report.bytes_after)}"
    click.echo(f"cache {report.path}: {sizes} (freed {freed})")


if __name__ == "__main__":
    cli()

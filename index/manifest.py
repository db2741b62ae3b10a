"""manifest.json: what a build was made from and with, and whether it may be used.

Query-time analysis and encoding must match build time exactly, or scores silently turn
into noise; so a build made with another format, model or text analysis is refused.

The manifest is typed: strict pydantic models, every field required, no field unknown,
read from JSON without pickle. A damaged or planted manifest is refused at load, naming
the field. Whether a build fits is judged in one place, Manifest.mismatch(): the Searcher
asks it before serving a build, `reindex --if-stale` before keeping one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.errors import REINDEX_HINT, IndexCorrupt, IndexMismatch
from core.fingerprint import weights_of
from index.lexical import BM25_SETTINGS
from index.text import ANALYZER_SETTINGS

# 2: title vectors (index/titles.py); 3: typed manifest, every field required (a model's
# dtype, a cross model's dtype, the passage kind and title weight of the vectors); 4: a build
# is a list of segments with deletes (index/segments.py), BM25 as raw postings
FORMAT_VERSION = 4
MANIFEST_NAME = "manifest.json"

Count = Annotated[int, Field(ge=0)]


class _Record(BaseModel):
    """A manifest section: strict types, no unknown field, immutable."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class ModelRecord(_Record):
    """An embedding model, as a build records the one that computed its vectors."""

    name: str  # as given by the user (a bundled name, a hub name or a folder)
    fingerprint: str  # hash of the weights, "+bfloat16" appended when run in that dtype
    dimension: int = Field(gt=0)
    dtype: str  # the precision the vectors were computed in: "float32" or "bfloat16"

    @classmethod
    def of(cls, encoder: Any) -> ModelRecord:
        """The record of an encoder (encoders.encoder.Encoder)."""
        return cls(
            name=encoder.name,
            fingerprint=encoder.fingerprint,
            dimension=encoder.dimension,
            dtype=encoder.dtype,
        )


class Counts(_Record):
    """How much the build holds, and how many source files were skipped."""

    articles: Count
    paragraphs: Count
    skipped: Count


class SegmentRecord(_Record):
    """One segment of the build: its folder's name and how much it holds, deleted or not
    (how much is live: the segment's deletes files, index/segments.py)."""

    name: str = Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z._-]*$", max_length=100)
    articles: Count
    paragraphs: Count
    vectors: Literal["flat", "hnsw"]  # its vector indexes' kind (index/vectors.py)
    shard: Count = 0  # the shard it belongs to (docs/segments.md, Shards); 0 when unsharded


class SourceRecord(_Record):
    """Where the articles came from: a folder and the fingerprint of its files."""

    path: str
    fingerprint: str


class VectorsRecord(_Record):
    """The primary model's vector index and what its vectors were computed from."""

    kind: Literal["flat", "hnsw"]  # index/vectors.py
    count: Count
    passage: str  # the passage kind (indexer/passages.py)
    title_weight: float  # share of the article title's vector mixed into each paragraph's


class AnalyzerSettings(_Record):
    """The text analysis the BM25 index was built with (index/text.py)."""

    version: int
    normalize: str
    tokens: str
    stemmers: dict[str, str]
    stopwords: str


class Bm25Settings(_Record):
    """The BM25 variant and parameters (index/lexical.py)."""

    engine: str
    method: str
    k1: float
    b: float


ANALYZER = AnalyzerSettings.model_validate(ANALYZER_SETTINGS)
BM25 = Bm25Settings.model_validate(BM25_SETTINGS)


@dataclass(frozen=True)
class Wanted:
    """A model a build must have been made with; a None field is not checked."""

    name: str
    fingerprint: str | None = None
    dimension: int | None = None
    dtype: str | None = None
    any_runtime: bool = False  # `fingerprint` is of the weights alone: any runtime fits

    @classmethod
    def of(cls, encoder: Any) -> Wanted:
        """The very model of `encoder`: name, weights, dimension and dtype."""
        record = ModelRecord.of(encoder)
        return cls(record.name, record.fingerprint, record.dimension, record.dtype)

    @classmethod
    def weights_of(cls, encoder: Any) -> Wanted:
        """`encoder`'s weights and dimension, computed by any runtime: what a query encoded
        by `encoder` can search (only the build's own vectors are ever stored together)."""
        record = ModelRecord.of(encoder)
        return cls(record.name, weights_of(record.fingerprint), record.dimension, None, True)

    def fits_weights(self, built: ModelRecord) -> bool:
        """Whether `built` has these weights (and runtime, unless any runtime fits)."""
        have = weights_of(built.fingerprint) if self.any_runtime else built.fingerprint
        return self.fingerprint in (None, have)

    def matches(self, built: ModelRecord) -> bool:
        """Whether `built` is this model (in the fields given)."""
        pairs = (
            (self.name, built.name),
            (self.dimension, built.dimension),
            (self.dtype, built.dtype),
        )
        return self.fits_weights(built) and all(want in (None, have) for want, have in pairs)


@dataclass(frozen=True)
class Expected:
    """What a build must have been made with to be used; a None field is not checked.
    `cross_model` None: the build must have no cross-lingual vectors."""

    model: Wanted
    cross_model: Wanted | None = None
    passage: str | None = None
    title_weight: float | None = None
    reprints: bool | None = None  # whether the build must have grouped reprints
    shards: int | None = None  # how many shards the build must be split into
    analyzer: AnalyzerSettings = ANALYZER
    bm25: Bm25Settings = BM25

    @classmethod
    def serving(cls, encoder: Any, cross: Any = None) -> Expected:
        """What a server running `encoder` (and `cross`, or no cross-lingual model) needs:
        vectors from the same weights, in any runtime (its queries are encoded in its own:
        encoders.encoder.resolve_precision), and today's text analysis, of any passage kind."""
        wanted = Wanted.weights_of
        return cls(wanted(encoder), None if cross is None else wanted(cross))


class Manifest(_Record):
    """The contents of manifest.json."""

    generation: str  # unique name of this build; a server reloads when it changes
    built_at: str  # ISO 8601, UTC
    model: ModelRecord
    counts: Counts
    source: SourceRecord
    vectors: VectorsRecord
    analyzer: AnalyzerSettings
    bm25: Bm25Settings
    cross_model: ModelRecord | None  # None: the build has no cross-lingual vectors
    segments: list[SegmentRecord]  # in order; `counts` are of their live rows
    reprints: bool  # whether reprints of one story were grouped (indexer/reprints.py)
    format_version: int
    shards: int = Field(default=1, ge=1)  # segments are spread over this many shards

    @model_validator(mode="after")
    def _shards_known(self) -> Manifest:
        """Every segment's shard is one of the build's."""
        for record in self.segments:
            if record.shard >= self.shards:
                raise ValueError(
                    f"segment {record.name} is in shard {record.shard} of {self.shards}"
                )
        return self

    def write(self, folder: Path) -> None:
        """Write manifest.json into `folder`."""
        text = json.dumps(self.model_dump(), ensure_ascii=False, indent=2)
        (folder / MANIFEST_NAME).write_text(text + "\n", encoding="utf-8")

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        """Read manifest.json in `folder`: its format version, then every field's type."""
        path = folder / MANIFEST_NAME
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise IndexCorrupt(f"{path} is missing; {REINDEX_HINT}") from exc
        except (OSError, ValueError) as exc:
            raise IndexCorrupt(f"{path} is unreadable ({exc}); {REINDEX_HINT}") from exc
        version = data.get("format_version") if isinstance(data, dict) else None
        if version != FORMAT_VERSION:
            raise IndexMismatch(
                f"index format {version} in {folder}, this poisk reads format "
                f"{FORMAT_VERSION}; {REINDEX_HINT}"
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise IndexCorrupt(f"{path} is malformed: {_first(exc)}; {REINDEX_HINT}") from exc

    def mismatch(self, expected: Expected) -> str | None:
        """Why this build does not fit `expected`, or None when it does: the one check."""
        built, want = self.model, expected.model
        if built.name != want.name or not want.fits_weights(built):
            return f"index was built with model {_named(built)}, not {_named(want)}"
        if want.dimension not in (None, built.dimension):
            return (
                f"index vectors have {built.dimension} dimensions, the model gives {want.dimension}"
            )
        if want.dtype not in (None, built.dtype):
            return f"index vectors were computed in {built.dtype}, not {want.dtype}"
        if self.analyzer != expected.analyzer or self.bm25 != expected.bm25:
            return "index was built with other text-analysis settings"
        cross, wanted = self.cross_model, expected.cross_model
        if not _fits(wanted, cross):
            have = "no cross-lingual vectors" if cross is None else f"cross model {_named(cross)}"
            return f"index has {have}, this server uses {_named(wanted) if wanted else 'none'}"
        vectors = self.vectors
        if expected.passage not in (None, vectors.passage):
            return f"index vectors are of {vectors.passage!r} passages, not {expected.passage!r}"
        if expected.title_weight not in (None, vectors.title_weight):
            return (
                f"index vectors have title weight {vectors.title_weight}, "
                f"not {expected.title_weight}"
            )
        if expected.reprints not in (None, self.reprints):
            return f"index was built with reprint grouping {'on' if self.reprints else 'off'}"
        if expected.shards not in (None, self.shards):
            return f"index was built in {self.shards} shard(s), not {expected.shards}"
        return None

    def check(self, expected: Expected) -> None:
        """Refuse the build (IndexMismatch, with the reindex hint) unless it fits."""
        problem = self.mismatch(expected)
        if problem is not None:
            raise IndexMismatch(f"{problem}; {REINDEX_HINT}")


def _fits(wanted: Wanted | None, built: ModelRecord | None) -> bool:
    """Whether a build's model is the one wanted; None (no such model) fits only None."""
    if wanted is None or built is None:
        return wanted is built
    return wanted.matches(built)


def _first(error: ValidationError) -> str:
    """The first problem pydantic found, naming the field (`vectors.count: ...`)."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "the manifest"
    more = error.error_count() - 1
    return f"{where}: {first['msg']}" + (f" (and {more} more)" if more else "")


def _named(model: ModelRecord | Wanted) -> str:
    """A model for messages: its name, and its weights when known."""
    if model.fingerprint is None:
        return repr(model.name)
    digest, plus, dtype = model.fingerprint.partition("+")
    return f"{model.name!r} (weights {digest[:12] + plus + dtype})"

"""manifest.json: what an index was built from and with, checked before it is used.

Query-time analysis and encoding must match build time exactly, or scores silently turn
into noise; so an index built with another format, model or text analysis is refused.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.errors import REINDEX_HINT, IndexCorrupt, IndexMismatch
from index.lexical import BM25_SETTINGS
from index.text import ANALYZER_SETTINGS

FORMAT_VERSION = 2  # 2: title vectors (index/titles.py)
MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class Manifest:
    """The contents of manifest.json."""

    generation: str  # unique name of this build; a server reloads when it changes
    built_at: str  # ISO 8601, UTC
    model: dict[str, Any]  # name, fingerprint, dtype, dimension
    counts: dict[str, int]  # articles, paragraphs, skipped
    source: dict[str, str]  # path, fingerprint of the files read
    vectors: dict[str, Any]  # kind (flat / hnsw), count
    analyzer: dict[str, Any] = field(default_factory=lambda: dict(ANALYZER_SETTINGS))
    bm25: dict[str, Any] = field(default_factory=lambda: dict(BM25_SETTINGS))
    cross_model: dict[str, Any] | None = None  # name, fingerprint, dimension; None: no such leg
    format_version: int = FORMAT_VERSION

    def write(self, folder: Path) -> None:
        """Write manifest.json into `folder`."""
        text = json.dumps(asdict(self), ensure_ascii=False, indent=2)
        (folder / MANIFEST_NAME).write_text(text + "\n", encoding="utf-8")

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        """Read and check manifest.json in `folder` (format version included)."""
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
            manifest = cls(**data)
        except TypeError as exc:
            raise IndexCorrupt(f"{path} has unexpected fields ({exc}); {REINDEX_HINT}") from exc
        problem = manifest._problem()
        if problem:
            raise IndexCorrupt(f"{path} is malformed: {problem}; {REINDEX_HINT}")
        return manifest

    def _problem(self) -> str | None:
        """What is wrong with the fields' types, or None: the file may be damaged or planted."""
        for name in ("generation", "built_at"):
            if not isinstance(getattr(self, name), str):
                return f"{name} is not a string"
        optional = ("cross_model",) if self.cross_model is None else ()
        for name in ("model", "counts", "source", "vectors", "analyzer", "bm25", "cross_model"):
            if name not in optional and not isinstance(getattr(self, name), dict):
                return f"{name} is not an object"
        model = {"name": str, "fingerprint": str, "dimension": int}
        expected = {
            "model": model,
            "cross_model": model,
            "counts": {"articles": int, "paragraphs": int},
            "source": {"path": str},
            "vectors": {"kind": str},
        }
        for name, keys in expected.items():
            if name in optional:
                continue
            section = getattr(self, name)
            for key, kind in keys.items():
                value = section.get(key)
                if not isinstance(value, kind) or isinstance(value, bool):
                    return f"{name}.{key} is missing or not a {kind.__name__}"
        return None

    def check(self, model_name: str, fingerprint: str, dimension: int) -> None:
        """Refuse the index unless it was built by this model and this text analysis."""
        built = self.model
        if built.get("name") != model_name or built.get("fingerprint") != fingerprint:
            raise IndexMismatch(
                f"index was built with model {built.get('name')!r} "
                f"(weights {_short(str(built.get('fingerprint')))}), not {model_name!r} "
                f"(weights {_short(fingerprint)}); {REINDEX_HINT}"
            )
        if built.get("dimension") != dimension:
            raise IndexMismatch(
                f"index vectors have {built.get('dimension')} dimensions, the model "
                f"gives {dimension}; {REINDEX_HINT}"
            )
        if self.analyzer != ANALYZER_SETTINGS or self.bm25 != BM25_SETTINGS:
            raise IndexMismatch(
                f"index was built with other text-analysis settings; {REINDEX_HINT}"
            )

    def check_cross(self, encoder: Any) -> None:
        """Refuse the index unless its cross-lingual vectors match `encoder` (None: none)."""
        built = self.cross_model
        wanted = None if encoder is None else cross_record(encoder)
        if built != wanted:
            have = "no cross-lingual vectors" if built is None else f"cross model {_named(built)}"
            want = "none" if wanted is None else _named(wanted)
            raise IndexMismatch(f"index has {have}, this server uses {want}; {REINDEX_HINT}")


def cross_record(encoder: Any) -> dict[str, Any]:
    """What the manifest records of the cross-lingual encoder."""
    return {
        "name": encoder.name,
        "fingerprint": encoder.fingerprint,
        "dimension": encoder.dimension,
    }


def _named(record: dict[str, Any]) -> str:
    """A model record for messages."""
    return f"{record.get('name')!r} (weights {_short(str(record.get('fingerprint')))})"


def _short(fingerprint: str) -> str:
    """A weights fingerprint for messages: 12 hex digits and the dtype suffix if any."""
    digest, plus, dtype = fingerprint.partition("+")
    return digest[:12] + plus + dtype

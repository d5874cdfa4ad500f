"""Artifacts load only when nothing looks wrong: tampered, foreign or broken ones are refused."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from evalkit.learn.artifact import ArtifactError, load_artifact, sha256_file
from evalkit.learn.data import Example
from evalkit.learn.fast import CompiledScorer, _CachedCharWb


@pytest.fixture
def copy(trained, tmp_path):
    target = tmp_path / trained.path.name
    shutil.copytree(trained.path, target)
    return target


def test_an_artifact_loads_and_scores_like_the_trained_model(trained, copy):
    artifact = load_artifact(copy)
    examples: list[Example] = trained.sets["harm"].examples[:20]
    loaded = artifact.model.predict_scores(examples)
    assert artifact.version == trained.version
    assert sorted(loaded) == ["hallucination", "harm", "impolite"]
    fast = CompiledScorer(artifact.model).predict_scores(examples)
    for head in loaded:
        np.testing.assert_allclose(fast[head], loaded[head], atol=1e-5)


def test_a_tampered_model_file_is_refused(copy):
    with (copy / "model.skops").open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ArtifactError, match="modified or corrupted"):
        load_artifact(copy)


def test_a_foreign_model_with_untrusted_types_is_refused(copy):
    import skops.io as sio
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    sio.dump(Pipeline([("f", FunctionTransformer(np.exp))]), copy / "model.skops")
    meta = json.loads((copy / "metadata.json").read_text())
    meta["files"]["model.skops"] = sha256_file(copy / "model.skops")  # a consistent forgery
    (copy / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match=r"does not trust: .*sklearn\.pipeline\.Pipeline"):
        load_artifact(copy)
    with pytest.raises(ArtifactError, match="not the file the store registered"):
        load_artifact(copy, expected_sha256="0" * 64)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: (p / "metadata.json").unlink(), "not an evalkit classifier artifact"),
        (lambda p: (p / "metadata.json").write_text('{"format": "x"}'), "format 'x'"),
        (lambda p: (p / "encoder").rename(p / "moved"), "is missing"),
    ],
    ids=["no-metadata", "other-format", "missing-file"],
)
def test_broken_artifacts_say_what_is_wrong(copy, damage, message):
    damage(copy)
    with pytest.raises(ArtifactError, match=message):
        load_artifact(copy)


def test_not_a_directory(tmp_path):
    (tmp_path / "x.pkl").write_bytes(b"\x80\x04")
    with pytest.raises(ArtifactError, match="not a directory"):
        load_artifact(tmp_path / "x.pkl")


def test_the_cached_char_analyzer_matches_sklearn(trained):
    vectorizer = trained_model_char(trained)
    fast = _CachedCharWb(vectorizer)
    texts = [ex.response for ex in trained.sets["harm"].examples[:200]]
    texts += ["", "a", "  ab \t c\n", "Ünïcode ✓ text", "x" * 50]
    for text in texts + texts:  # the second pass is served from the cache
        assert fast(text) == vectorizer.build_analyzer()(text)


def trained_model_char(trained):
    return load_artifact(trained.path).model.features_.extractors_["char"]

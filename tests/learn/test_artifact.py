"""Artifacts load only when nothing looks wrong: tampered, foreign or broken ones are refused."""

from __future__ import annotations

import json
import shutil
import zipfile

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from evalkit.learn.artifact import TRUSTED_TYPES, ArtifactError, load_artifact, sha256_file
from evalkit.learn.data import Example
from evalkit.learn.fast import CompiledScorer, _CachedCharWb
from evalkit.learn.features import RiskFeatures, pack_vocabulary, unpack_vocabulary
from evalkit.learn.model import RiskModel
from tests.learn import support


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


@given(st.dictionaries(st.text(min_size=1, max_size=12), st.just(0), max_size=40))
def test_a_packed_vocabulary_unpacks_to_the_same_dict(terms):
    vocabulary = {term: i for i, term in enumerate(terms)}
    text, lengths = pack_vocabulary(vocabulary)
    assert text.dtype == np.uint8 and lengths.dtype == np.int64
    assert unpack_vocabulary(text, lengths) == vocabulary


def test_a_vocabulary_with_gaps_is_not_packed():
    with pytest.raises(ValueError, match=r"0\.\.n-1"):
        pack_vocabulary({"a": 0, "b": 2})


def test_the_model_file_holds_vocabularies_as_arrays_not_dicts(copy):
    with zipfile.ZipFile(copy / "model.skops") as archive:
        schema = archive.read("schema.json").decode()
        # one file per array, not one per vocabulary entry (52,000 files, 4-9 s to load)
        assert len(archive.namelist()) < 100
    assert '"vocabulary_"' not in schema and '"vocabularies_"' in schema


def test_saved_features_load_with_the_same_vocabularies_and_values(static_model, tmp_path):
    import skops.io as sio

    examples = support.demo_sets()["harm"].examples[:120]
    fitted = RiskFeatures(encoder_dir=str(static_model)).fit(examples)
    sio.dump(fitted, tmp_path / "f.skops")
    loaded = sio.load(tmp_path / "f.skops", trusted=list(TRUSTED_TYPES))
    assert list(loaded.extractors_) == list(fitted.extractors_)
    before, after = fitted.transform_blocks(examples), loaded.transform_blocks(examples)
    for block in ("word", "char", "prompt"):
        assert loaded.extractors_[block].vocabulary_ == fitted.extractors_[block].vocabulary_
        assert (before[block] != after[block]).nnz == 0


def test_saving_leaves_the_live_model_untouched_and_old_states_still_load(trained):
    features = load_artifact(trained.path).model.features_
    vocabulary = dict(features.extractors_["char"].vocabulary_)
    state = features.__getstate__()
    assert "vocabulary_" not in state["extractors_"]["char"].__dict__
    assert features.extractors_["char"].vocabulary_ == vocabulary
    old = dict(features.__dict__)  # a model saved before vocabularies were packed
    restored = RiskFeatures.__new__(RiskFeatures)
    restored.__setstate__(old)
    assert restored.extractors_["char"].vocabulary_ == vocabulary


def test_fitting_features_leaves_the_parameter_unfitted(static_model):
    param = RiskFeatures(encoder_dir=str(static_model))
    examples = support.demo_sets()["harm"].examples[:80]
    model = RiskModel(param).fit_features(examples)
    assert model.features is param and not hasattr(param, "extractors_")
    assert model.features_ is not param and "char" in model.features_.extractors_

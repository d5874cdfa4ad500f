"""Learn: turn reviewers' final labels into a calibrated, versioned risk classifier.

Public surface: ``train_from_store`` / ``train_classifier`` with ``TrainOptions``,
``train_demo_classifier`` (the demo loop's step), ``score_file``, ``load_artifact``,
``find_suspects``, ``uncertainty_order``. Heavy libraries load when these run, not on import.
"""

from evalkit.learn.active import uncertainty_order
from evalkit.learn.artifact import ArtifactError, load_artifact
from evalkit.learn.pipeline import score_file, train_demo_classifier, train_from_store
from evalkit.learn.suspects import find_suspects
from evalkit.learn.train import TrainOptions, train_classifier

__all__ = [
    "ArtifactError",
    "TrainOptions",
    "find_suspects",
    "load_artifact",
    "score_file",
    "train_classifier",
    "train_demo_classifier",
    "train_from_store",
    "uncertainty_order",
]

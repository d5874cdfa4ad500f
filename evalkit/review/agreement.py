"""Agreement between reviewers, with the consensus, and with gold answers.

Cohen's kappa (scikit-learn) per reviewer pair and field, over the items both labelled;
Krippendorff's alpha (the ``krippendorff`` package) per field over every overlap item, which
copes with reviewers who did not label everything. Fields are the schema's heads plus tone's
off-brand flag; harm is ordinal for alpha (none < low < … < critical), the others nominal.
A statistic that cannot be computed (one class only, too few items) is NaN, never made up.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from evalkit.review.consensus import majority
from evalkit.review.schema import HEADS, HEADS_BY_NAME
from evalkit.review.types import LabelVersion
from evalkit.store import labels as label_store
from evalkit.store.database import Database

OFF_BRAND = "tone.off_brand"
FIELDS = (*(h.name for h in HEADS), OFF_BRAND)
ORDINAL = {"harm"}


@dataclass(frozen=True)
class FieldAgreement:
    field: str
    alpha: float
    items: int
    level: str


@dataclass(frozen=True)
class PairAgreement:
    field: str
    reviewer_a: str
    reviewer_b: str
    kappa: float
    items: int


@dataclass(frozen=True)
class ReviewerAgreement:
    username: str
    labels: int
    #: share of their labels on overlap items equal to the item's consensus (majority of the
    #: others, or the adjudicated answer)
    with_consensus: float
    gold_answers: int
    gold_accuracy: float


@dataclass(frozen=True)
class AgreementReport:
    fields: tuple[FieldAgreement, ...]
    pairs: tuple[PairAgreement, ...]
    reviewers: tuple[ReviewerAgreement, ...]


def field_value(label: LabelVersion, field: str) -> str | None:
    if field == OFF_BRAND:
        return "yes" if label.off_brand else "no"
    return label.value


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float:
    """Cohen's kappa of two raters' labels of the same items (NaN when undefined)."""
    from sklearn.metrics import cohen_kappa_score

    if len(a) < 2 or len(set(a) | set(b)) < 2:
        return math.nan
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(cohen_kappa_score(list(a), list(b)))


def krippendorff_alpha(
    units: Sequence[dict[str, str]], *, order: Sequence[str], level: str = "nominal"
) -> float:
    """Krippendorff's alpha: ``units`` is one {rater: value} per item; ``order`` lists the
    values (their order matters for ``ordinal``)."""
    import krippendorff
    import numpy as np

    raters = sorted({r for unit in units for r in unit})
    pairable = [u for u in units if len(u) >= 2]
    values = {v for u in pairable for v in u.values()}
    if len(pairable) < 1 or len(values) < 2:
        return math.nan
    index = {v: i for i, v in enumerate(order)}
    data = np.full((len(raters), len(pairable)), np.nan)
    for j, unit in enumerate(pairable):
        for i, rater in enumerate(raters):
            if rater in unit:
                data[i, j] = index[unit[rater]]
    return float(
        krippendorff.alpha(
            reliability_data=data,
            level_of_measurement=level,  # type: ignore[arg-type]
            value_domain=list(range(len(order))),
        )
    )


def agreement_report(db: Database, *, queue: str | None = None) -> AgreementReport:
    """Every agreement figure over the store's current review labels (optionally one queue)."""
    heads = [h.name for h in HEADS]
    labels = label_store.current_labels(
        db, heads, kinds=("review", "adjudication", "gold"), queue=queue
    )
    reviews = [lab for lab in labels if lab.source_kind == "review"]
    adjudicated = {
        (lab.item_id, lab.head): lab.value for lab in labels if lab.source_kind == "adjudication"
    }
    return AgreementReport(
        fields=tuple(_fields(reviews)),
        pairs=tuple(_pairs(reviews)),
        reviewers=tuple(_reviewers(db, reviews, adjudicated, labels, queue)),
    )


def _units(reviews: Sequence[LabelVersion], field: str) -> dict[int, dict[str, str]]:
    head = "tone" if field == OFF_BRAND else field
    units: dict[int, dict[str, str]] = defaultdict(dict)
    for lab in reviews:
        if lab.head == head and lab.item_id is not None:
            value = field_value(lab, field)
            if value is not None:
                units[lab.item_id][lab.annotator] = value
    return units


def _order(field: str) -> list[str]:
    return ["no", "yes"] if field == OFF_BRAND else list(HEADS_BY_NAME[field].values)


def _fields(reviews: Sequence[LabelVersion]) -> list[FieldAgreement]:
    out = []
    for field in FIELDS:
        units = [u for u in _units(reviews, field).values() if len(u) >= 2]
        level = "ordinal" if field in ORDINAL else "nominal"
        alpha = krippendorff_alpha(units, order=_order(field), level=level)
        out.append(FieldAgreement(field, alpha, len(units), level))
    return out


def _pairs(reviews: Sequence[LabelVersion]) -> list[PairAgreement]:
    out = []
    for field in FIELDS:
        units = _units(reviews, field)
        raters = sorted({r for u in units.values() for r in u})
        for a, b in itertools.combinations(raters, 2):
            both = [u for u in units.values() if a in u and b in u]
            if not both:
                continue
            kappa = cohen_kappa([u[a] for u in both], [u[b] for u in both])
            out.append(PairAgreement(field, a, b, kappa, len(both)))
    return out


def _reviewers(
    db: Database,
    reviews: Sequence[LabelVersion],
    adjudicated: dict[tuple[int | None, str], str],
    labels: Sequence[LabelVersion],
    queue: str | None,
) -> list[ReviewerAgreement]:
    by_item_head: dict[tuple[int | None, str], list[LabelVersion]] = defaultdict(list)
    for lab in reviews:
        by_item_head[(lab.item_id, lab.head)].append(lab)
    agree: Counter[str] = Counter()
    compared: Counter[str] = Counter()
    counted: Counter[str] = Counter(lab.annotator for lab in reviews)
    for key, group in by_item_head.items():
        if len(group) < 2 and key not in adjudicated:
            continue
        for lab in group:
            others = [o.value for o in group if o.annotator != lab.annotator]
            reference = adjudicated.get(key) or majority(others)
            if reference is None:
                continue
            compared[lab.annotator] += 1
            agree[lab.annotator] += lab.value == reference
    gold = label_store.gold_answers(db, queue)
    right: Counter[str] = Counter()
    answered: Counter[str] = Counter()
    for lab in labels:
        if lab.source_kind != "gold" or lab.item_id not in gold:
            continue
        expected = gold[lab.item_id][1].get(lab.head)
        if expected is None:
            continue
        answered[lab.annotator] += 1
        right[lab.annotator] += lab.value == expected
    names = sorted(set(counted) | set(answered))
    return [
        ReviewerAgreement(
            username=name,
            labels=counted[name],
            with_consensus=agree[name] / compared[name] if compared[name] else math.nan,
            gold_answers=answered[name],
            gold_accuracy=right[name] / answered[name] if answered[name] else math.nan,
        )
        for name in names
    ]

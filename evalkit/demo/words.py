"""The building blocks of the demo's words: template helpers, tenants' facts, invented names.

All text of the demo traffic is written for evalkit; none is copied from a dataset. The intent
modules (``shop``, ``care``) build each turn's ``Exchange`` from these pieces;
``text`` composes the final prompt and response.

Templates are prose blocks: ``lines`` holds one template per line; ``keyed`` holds ``@name``
paragraphs whose sentences are separated by `` | ``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")
Rng = np.random.Generator


def lines(block: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in block.strip().splitlines() if line.strip())


def keyed(block: str) -> dict[str, str]:
    paragraphs = (" ".join(lines(p)) for p in block.strip().split("\n\n"))
    return dict(p[1:].split(" ", 1) for p in paragraphs)


def say(template: str, **slots: Any) -> tuple[str, ...]:
    """The sentences of one answer template, filled in."""
    return tuple(template.format(**slots).split(" | "))


def pick(rng: Rng, items: Sequence[T]) -> T:
    """One item, uniformly; indexing keeps its type (``rng.choice`` would return numpy)."""
    return items[int(rng.integers(len(items)))]


def weighted(rng: Rng, weights: Mapping[T, float]) -> T:
    """One key, with probability proportional to its weight (plain Python: this runs per record,
    and ``rng.choice(p=...)`` costs more than the rest of a draw)."""
    u = rng.random() * sum(weights.values())
    for key, weight in weights.items():
        u -= weight
        if u < 0:
            return key
    return key


def other(rng: Rng, candidates: Sequence[T], exclude: Callable[[T], bool]) -> T:
    """A value for an invented specific that does not happen to state the truth."""
    return pick(rng, [c for c in candidates if not exclude(c)])


def day(when: datetime) -> str:
    return f"{when:%B} {when.day}"


def qty(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 or unit == "ml" else f"{n} {unit}s"


@dataclass(frozen=True)
class Exchange:
    """One user turn and the two ways a model can answer it (sentences, key fact first)."""

    prompt: str
    context: str | None
    answer: tuple[str, ...]
    invented: tuple[str, ...]
    correction: str  # what a user who caught the invention writes back


@dataclass(frozen=True)
class Product:
    name: str
    battery_hours: int | None  # None: mains powered
    weight_g: int
    warranty_years: int
    water: str | None  # IP rating; None: not water resistant


@dataclass(frozen=True)
class TenantFacts:
    """What a tenant's own documents say; grounded answers are checked against these."""

    brand: str
    order_prefix: str
    refund_window: int  # days after delivery
    refund_days: int  # business days until the money is back
    excluded: str  # what cannot be returned
    reset_minutes: int
    email_hours: int
    code_seconds: int
    restore_days: int
    items: tuple[str, ...]
    products: tuple[Product, ...]


# fmt: off
TENANT_FACTS = {
    "brightcart": TenantFacts(
        "BrightCart", "BC", 30, 5, "Gift cards and final-sale items", 30, 48, 30, 30,
        ("wireless earbuds", "phone case", "desk fan", "yoga mat", "coffee grinder", "backpack"),
        (Product("Pulse wireless earbuds", 8, 52, 1, "IPX4"),
         Product("Breeze handheld fan", 12, 210, 1, None),
         Product("Orbit smart speaker", None, 780, 2, None),
         Product("Vista tablet", 11, 460, 2, None))),
    "lumen-home": TenantFacts(
        "Lumen Home", "LH", 60, 10, "Custom-cut rugs and assembled furniture", 15, 24, 30, 14,
        ("oak side table", "linen curtains", "floor lamp", "towel set", "ceramic vase", "duvet"),
        (Product("Aurora desk lamp", None, 1400, 3, None),
         Product("Nimbus air purifier", None, 3600, 2, None),
         Product("Drift robot vacuum", 2, 3100, 2, None),
         Product("Glow bedside light", 20, 350, 2, "IPX4"))),
    "kestrel-gear": TenantFacts(
        "Kestrel Gear", "KG", 45, 7, "Used climbing hardware", 60, 72, 60, 30,
        ("trail shoes", "rain shell", "headlamp", "trekking poles", "sleeping pad", "water filter"),
        (Product("Trailhead headlamp", 40, 86, 3, "IPX7"),
         Product("Ridgeline GPS watch", 36, 64, 2, "IP68"),
         Product("Summit power bank", None, 340, 2, "IPX5"),
         Product("Cirrus bike light", 9, 120, 2, "IPX6"))),
    "harbor-health": TenantFacts(
        "Harbor Health Pharmacy", "HH", 14, 3, "Opened medicines and personal-care items",
        15, 24, 30, 14,
        ("vitamin D supplements", "first-aid kit", "blood pressure monitor", "hand cream",
         "thermometer", "allergy tablets"),
        (Product("ThermoQuick ear thermometer", None, 95, 2, None),
         Product("OxiClip pulse oximeter", 30, 48, 1, None),
         Product("CalmCuff blood pressure monitor", None, 410, 3, None))),
}
CITIES = ("Memphis, TN", "Louisville, KY", "Columbus, OH", "Reno, NV", "Allentown, PA",
          "Fort Worth, TX", "Ontario, CA", "Indianapolis, IN")
CARRIERS = ("Parcelpoint", "Northline Express", "Bluejay Post", "Cargoroo")
STREETS = ("Maple Court", "Alder Way", "Juniper Lane", "Quarry Road", "Linden Street")
FIRST_NAMES = ("Marisol", "Devon", "Priya", "Tomasz", "Aiko", "Kwame", "Lena", "Rafael", "Hannah",
               "Omar", "Sigrid", "Jonah", "Ines")
LAST_NAMES = ("Okafor", "Lindqvist", "Moreau", "Castellano", "Brennan", "Nakamura", "Haddad",
              "Whitfield", "Kowalski", "Adeyemi", "Fontaine", "Rasmussen", "Delgado", "Mensah")
# fmt: on
CORRECTION_LEADS = lines("""
    That's not what your own page says:
    Wrong. Your site says:
    Correction:
    The bot got this wrong, the actual text is:
    Please fix this answer, the document says:
""")


def retrieved_context(source: str, passages: Sequence[str], rng: Rng) -> str:
    """Retrieved passages in retrieval order, which is not the order a human would pick."""
    order = rng.permutation(len(passages))
    return "\n\n".join(f"[{source} {i + 1}] {passages[j]}" for i, j in enumerate(order))


def exchange(
    rng: Rng,
    prompt: str,
    source: str,
    passages: list[str],
    key: str,
    answer: tuple[str, ...],
    invented: tuple[str, ...],
) -> Exchange:
    correction = f"{pick(rng, CORRECTION_LEADS)} {key}"
    return Exchange(prompt, retrieved_context(source, passages, rng), answer, invented, correction)

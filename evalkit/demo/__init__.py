"""Deterministic synthetic data for ``evalkit demo``, which every stage feeds and reads.

It lives beside the stages rather than in one of them: capture's traffic (``traffic``, written
from ``profiles``, ``words``, ``text``, ``shop`` and ``care``) comes first, and later stages add
their own steps here (simulated reviewers, drift events, golden suites). The demo may import any
stage; no stage imports the demo.
"""

from __future__ import annotations

from evalkit.demo.traffic import DemoTraffic, demo_run, generate_demo, write_demo

__all__ = ["DemoTraffic", "demo_run", "generate_demo", "write_demo"]

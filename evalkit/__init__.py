"""evalkit: capture, sample, review, learn, guard, gate and watch LLM output quality.

``from evalkit import Recorder`` is the service-side SDK; everything else is reached through the
stage packages (``evalkit.capture``, ``evalkit.store``, ...) or the ``evalkit`` command.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("evalkit")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

if TYPE_CHECKING:
    from evalkit.capture.recorder import Recorder
    from evalkit.guard import Guard

__all__ = ["Guard", "Recorder", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy, so `import evalkit` stays cheap for the CLI and services that never record.
    if name == "Recorder":
        from evalkit.capture.recorder import Recorder

        return Recorder
    if name == "Guard":
        from evalkit.guard import Guard

        return Guard
    raise AttributeError(f"module 'evalkit' has no attribute {name!r}")

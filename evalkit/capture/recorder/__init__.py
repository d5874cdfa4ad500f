"""The service-side SDK (``Recorder``): record responses and feedback from a running service.

``client`` is the request path and the process hooks; ``writer`` the writer thread's loop and
backoff; ``delivery`` the retry buffer and the writes to the store; ``state`` what the two sides
share; ``values`` turns Python values JSON cannot hold into JSON. The contract is in ``client``.
"""

from __future__ import annotations

from evalkit.capture.recorder.client import Recorder
from evalkit.capture.recorder.state import RecorderStats

__all__ = ["Recorder", "RecorderStats"]

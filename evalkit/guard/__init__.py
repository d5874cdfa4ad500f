"""Guard: score live responses with the active risk classifier before they are sent.

Public surface: ``Guard`` (``load``, ``active``, ``check``, ``check_many``, ``close``),
``Verdict``, ``GuardPolicy``.
"""

from evalkit.guard.guard import Guard, Verdict
from evalkit.guard.policy import ACTIONS, FAIL_MODES, GuardPolicy

__all__ = ["ACTIONS", "FAIL_MODES", "Guard", "GuardPolicy", "Verdict"]

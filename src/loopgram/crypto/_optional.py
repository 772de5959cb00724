"""Loading of the optional native accelerators used by the crypto layer.

cryptg, tgcrypto and gmpy2 are optional: every operation has a portable path. They are loaded
through :func:`importlib.import_module` because two of them ship without type stubs; each
caller binds the few attributes it needs to explicitly typed names.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["load"]


def load(name: str) -> ModuleType | None:
    """Return the module ``name``, or ``None`` when it is not installed or fails to load."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None

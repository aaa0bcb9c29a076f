"""The name a results file (a saved run) gives itself, and how a reader recognises one.

Its own module so that the results reader (:mod:`wsztune.results`, which writes and validates
runs) and the corpus reader (:mod:`wsztune.corpus`, which must refuse a run given as a corpus)
share one definition without either knowing the other's format.
"""

from __future__ import annotations

import re

SCHEMA_FAMILY = "wsztune.run/"  # "wsztune.run/2": the family, then the version

_SIGNATURE = re.compile(rb'"schema"\s*:\s*"' + re.escape(SCHEMA_FAMILY.encode()))


def looks_like_results(head: bytes) -> bool:
    """Whether the first bytes of a file are those of a wsztune results file (a saved run)."""
    return head.lstrip()[:1] == b"{" and bool(_SIGNATURE.search(head))

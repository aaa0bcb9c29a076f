"""``python -m corpora.generate OUTDIR [--seed N] [--package-data]``, from the repository root."""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:
    # Run as ``python corpora/generate ...``: make the repository root importable first.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from corpora.generate.build import main  # noqa: E402

sys.exit(main())

"""wsztune's tests: folders mirror the package (``tests/codecs/`` for ``wsztune/codecs/``, ...);
helpers and fixtures that are not tests live in ``tests/support/``."""

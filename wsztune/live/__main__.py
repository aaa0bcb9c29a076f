"""The client process of ``wsztune live`` (websockets): ``python -m wsztune.live CONFIG_JSON``."""

from __future__ import annotations

import sys

from wsztune.live.python import client_process_main

if __name__ == "__main__":
    sys.exit(client_process_main(sys.argv[1:]))

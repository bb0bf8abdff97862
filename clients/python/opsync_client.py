#!/usr/bin/env python3
"""The OpSync Python client's command line: ``python3 clients/python/opsync_client.py --help``."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from opsync.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Runs the Python client's tests: ``run_tests.py [--server BIN] [--client BIN] [--sim BIN] [MODULE...]``.

CTest passes the paths of the opsync-server, opsync-client and opsync-sim it built; without them
the tests look in build/release, except test_certify, which is skipped without --sim. Without
modules, every test_*.py here runs.
"""

import argparse
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", help="the opsync-server binary")
    parser.add_argument("--client", help="the reference opsync-client binary")
    parser.add_argument("--sim", help="opsync-sim, for test_certify (skipped without it)")
    parser.add_argument("modules", nargs="*", help="test modules (default: all)")
    args = parser.parse_args()
    if args.server:
        os.environ["OPSYNC_SERVER_BIN"] = os.path.abspath(args.server)
    if args.client:
        os.environ["OPSYNC_CLIENT_BIN"] = os.path.abspath(args.client)
    if args.sim:
        os.environ["OPSYNC_SIM_BIN"] = os.path.abspath(args.sim)
    # The defects are for certification runs only; a test that wants one asks for it (the
    # adapters test_certify starts get theirs on their own command line).
    os.environ.pop("OPSYNC_PY_DEFECT", None)
    sys.path.insert(0, HERE)
    loader = unittest.defaultTestLoader
    if args.modules:
        suite = loader.loadTestsFromNames(args.modules)
    else:
        suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    result = unittest.TextTestRunner(verbosity=1).run(suite)
    return 0 if result.wasSuccessful() and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())

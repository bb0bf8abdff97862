"""An OpSync v1 client in Python, written from the spec (spec/opsync-v1.md) and its vectors.

``opsync.client.Client`` is the API an application uses; ``python3 -m opsync`` (or
``clients/python/opsync_client.py``) is its command line.
"""

__version__ = "0.1.0"

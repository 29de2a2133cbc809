"""A local fake of the LINE platform for development and tests.

``create_app`` builds the Flask app that serves the Messaging API (both the api and the
api-data hosts), a control API under ``/_emulator`` and a browser chat page at ``/``.
"""

from .app import create_app, sign

__all__ = ["create_app", "sign"]

"""Krasip's benchmark: complete conversations against the bot and a bare SDK echo bot.

Run ``python -m bench --help``; README's performance section explains the figures.
"""

import socket


def free_port() -> int:
    """A free local TCP port (importable without the benchmark's extra packages)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

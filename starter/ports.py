"""Port checks that fail with one clear line instead of a traceback deep in a server."""

from __future__ import annotations

import socket


class PortInUseError(RuntimeError):
    """A port Leadflow must listen on is taken."""


def ensure_port_free(host: str, port: int, what: str, setting: str) -> None:
    """Raise PortInUseError naming the service and the setting that moves it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as err:
            raise PortInUseError(
                f"{what} port {port} on {host} is already in use; free it or set {setting}"
            ) from err


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (for tests and ephemeral servers)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])

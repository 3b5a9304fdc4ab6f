"""Serving the app from a background thread: for the browser test and the load benchmark,
which need a real HTTP server in the same process as the runs they trained."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI


@dataclass
class Background:
    """A uvicorn server running in a thread, and its URL."""

    server: uvicorn.Server
    thread: threading.Thread
    url: str

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def serve_in_background(app: FastAPI, host: str = "127.0.0.1", port: int | None = None,
                        timeout: float = 20) -> Background:
    """Start ``app`` on ``host:port`` (a free port when None) and wait until it listens."""
    port = port or free_port(host)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="genlab-explore-server", daemon=True)
    thread.start()
    start = time.monotonic()
    while not server.started:
        if not thread.is_alive() or time.monotonic() - start > timeout:
            raise RuntimeError(f"the explorer did not start on {host}:{port}")
        time.sleep(0.02)
    return Background(server, thread, f"http://{host}:{port}")

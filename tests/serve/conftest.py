"""A server for the browser tests: the app served by uvicorn in a thread."""

from __future__ import annotations

import threading
import time

import pytest

from serve_tools import free_port


@pytest.fixture(scope="module")
def server():
    """The app served by uvicorn in a thread: its base URL."""
    import uvicorn

    from restorekit.serve.app import create_app

    port = free_port()
    config = uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)

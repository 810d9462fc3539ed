"""Fixtures: a moto server on the loopback interface, for the EventBridge routing test."""

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

LOOPBACK = "127.0.0.1"


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def moto_endpoint():
    """Starts `moto_server` on 127.0.0.1 and a free port; stops it afterwards."""
    server = Path(sys.executable).with_name("moto_server")
    assert server.exists(), f"{server} is missing: run ./scripts/bootstrap.sh"
    port = _free_port()
    endpoint = f"http://{LOOPBACK}:{port}"
    # Nothing may leave the machine: no proxy for the loopback endpoint.
    saved = {k: os.environ.get(k) for k in ("NO_PROXY", "no_proxy")}
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = f"{LOOPBACK},localhost"
    # The server logs every request: to a file, not a pipe nobody drains.
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [str(server), "-H", LOOPBACK, "-p", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"moto_server exited: {log.read().decode(errors='replace')}")
            try:
                opener.open(f"{endpoint}/moto-api/reset", data=b"", timeout=1).close()
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not answer within 30 s") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

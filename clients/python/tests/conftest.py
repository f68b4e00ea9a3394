"""A real tessera for the tests: the binary (``TESSERA_BIN``, or the workspace's debug
build) on a free loopback port with a fresh data dir, stopped at the end."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tessera_client import Tessera


@dataclass
class Git:
    """tessera's gateway in front of git's smart HTTP backend (scripts/clients starts it)."""

    gateway_url: str
    root: Path


@dataclass
class Running:
    url: str
    admin_token: str
    git: Git | None

    @property
    def admin(self) -> Tessera:
        return Tessera(self.url, self.admin_token)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def tessera() -> Iterator[Running]:
    here = Path(__file__).resolve().parent
    binary = Path(os.environ.get("TESSERA_BIN", here / "../../../target/debug/tessera")).resolve()
    if not binary.exists():
        raise RuntimeError(f"no tessera binary at {binary}: build it (cargo build -p tessera) or set TESSERA_BIN")
    with tempfile.TemporaryDirectory(prefix="tessera-py-") as dir:
        port = _free_port()
        admin_file = Path(dir) / "admin"
        log = open(Path(dir) / "log", "wb")
        args = [str(binary), "serve", "--data-dir", f"{dir}/data", "--listen", f"127.0.0.1:{port}",
                "--admin-token-file", str(admin_file)]
        git = None
        upstream, root, routes = (os.environ.get(f"TESSERA_GIT_{name}") for name in ("UPSTREAM", "ROOT", "ROUTES"))
        if upstream and root and routes:
            gateway_port = _free_port()
            args += ["--config", routes, "--upstream", upstream, "--gateway-listen", f"127.0.0.1:{gateway_port}"]
            git = Git(f"http://127.0.0.1:{gateway_port}", Path(root))
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                        pass
                    if admin_file.exists() and admin_file.read_text().strip():
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("tessera did not start:\n" + (Path(dir) / "log").read_text())
                time.sleep(0.05)
            yield Running(url, admin_file.read_text().strip(), git)
        finally:
            process.terminate()
            process.wait(timeout=10)
            log.close()

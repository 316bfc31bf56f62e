"""A local anvil node from the npm package `@foundry-rs/anvil`, on loopback.

The platform package ships the real binary; it is run directly (the npm wrapper
script would only add a Node.js process in front of it). State can be kept in a
file (`--state`) and dumped every `state_interval` seconds; a hard kill loses what
came after the last dump.
"""

from __future__ import annotations

import platform
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from ledger_service.chain.compiler import EVM_VERSION
from ledger_service.paths import NODE_MODULES

ANVIL_CHAIN_ID = 31337


class AnvilUnavailable(RuntimeError):
    """No runnable anvil binary on this machine."""


def anvil_binary() -> Path:
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine().lower())
    system = platform.system().lower()
    candidates = [NODE_MODULES / "@foundry-rs" / f"anvil-{system}-{arch}" / "bin" / "anvil"]
    found = shutil.which("anvil")
    if found:
        candidates.append(Path(found))
    for path in candidates:
        if path.exists():
            return path
    raise AnvilUnavailable(f"anvil not found (looked in {', '.join(map(str, candidates))}); run `npm ci`")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class AnvilNode:
    """A running anvil process."""

    port: int
    state_file: Path | None = None
    state_interval: int | None = None
    block_time: float | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> AnvilNode:
        cmd = [
            str(anvil_binary()),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--hardfork",
            EVM_VERSION,
            "--silent",
        ]
        if self.state_file is not None:
            cmd += ["--state", str(self.state_file)]
            if self.state_interval:
                cmd += ["--state-interval", str(self.state_interval)]
        if self.block_time:
            cmd += ["--block-time", str(self.block_time)]
        self.process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                raise AnvilUnavailable(f"anvil exited with {self.process.returncode}: {err.strip()}")
            try:
                httpx.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}, timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.05)
        self.stop()
        raise AnvilUnavailable(f"anvil did not answer on {self.url} within {timeout} s")

    def fund(self, address: str, wei: int = 10**21) -> None:
        """Set an account's balance (anvil's development RPC; local nodes only)."""
        reply = httpx.post(
            self.url,
            json={"jsonrpc": "2.0", "id": 1, "method": "anvil_setBalance", "params": [address, hex(wei)]},
            timeout=10,
        ).json()
        if "error" in reply:
            raise RuntimeError(f"anvil_setBalance failed: {reply['error']}")

    def stop(self, hard: bool = False) -> None:
        """Stop the node; `hard` kills it without letting it dump its state."""
        if self.process is None or self.process.poll() is not None:
            return
        if hard:
            self.process.kill()
        else:
            self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> AnvilNode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

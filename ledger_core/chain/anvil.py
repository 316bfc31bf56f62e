"""A local anvil node from the npm package `@foundry-rs/anvil`, on loopback.

The platform package ships the real binary; it is run directly (the npm wrapper
script would only add a Node.js process in front of it). State can be kept in a
file (`--state`) and dumped every `state_interval` seconds; a hard kill loses what
came after the last dump, or leaves the file truncated if it lands during a rewrite.

A dump serialises the whole chain (every block, transaction and receipt) and rewrites the
file in place, so it lasts in proportion to the file's size; anvil waits a whole interval
after a dump ends before it starts the next. `state_interval_for` chooses the interval from
the file's size so that dumps take at most a tenth of the node's time (`bench/anvil_state.py`
measures the figures it uses). anvil keeps the interval it was started with, so the choice is
made again only when the node (re)starts.

anvil keeps the state of each of its recent blocks so that a call can be made at an older block (reconcile
reads balances at a fixed block); beyond a few in memory it writes them to a directory on disk, one file
of the whole state per block, and removes that directory only when it exits on its own. Left to itself it
chooses a fresh directory under `~/.foundry/anvil/tmp` each time and a stopped or killed node leaves it
behind (hundreds of megabytes per run). Each node here is given a directory of its own (`history_dir`),
emptied when it starts and removed when it stops: a new process cannot read an old one's block states.

Writing those states costs the node as much again as the transactions: with a block per transaction, each
block past the first few hundred writes the whole state to disk. Measured with the throughput benchmark
(2,400 transfers a measurement), anvil spent 0.84 ms of CPU per single transfer against 0.42 ms with the
states kept in memory only, and the served single endpoint reached 734 against 1,041 tx/s. `history="memory"`
(`carbonledger chain start --history memory`) keeps them in memory only: calls reach 500 blocks back instead
of about 3,600, and the node holds more memory (measured after 5,000 blocks: 980 MB resident against 250 MB).
The default stays on disk, for reconcile, which reads at the block the index has reached: under load, with a
block per transaction, 500 blocks can be less than a second.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

import httpx

from ledger_core.chain.compiler import EVM_VERSION
from ledger_core.paths import NODE_MODULES
from ledger_core.private_files import private_dir

ANVIL_CHAIN_ID = 31337
FREE_GAS = ("--base-fee", "0", "--gas-price", "0", "--disable-min-priority-fee")

# One dump of a state file of S MB lasts about DUMP_SECONDS_FIXED + S * DUMP_SECONDS_PER_MB: measured by
# `bench/anvil_state.py` on a 2-core machine shared with other work (about 5 ms of CPU per MB, 16 ms of wall
# time per MB under that load); loading such a file on start takes about S * LOAD_SECONDS_PER_MB.
DUMP_SECONDS_PER_MB = 0.016
DUMP_SECONDS_FIXED = 0.05
LOAD_SECONDS_PER_MB = 0.05
DUMP_SHARE = 0.10  # dumps take at most this share of the node's time
MIN_STATE_INTERVAL = 1  # anvil's interval is whole seconds
# Up to this size the single-machine mode is recommended (README "Chain modes"); beyond it, a Besu network.
RECOMMENDED_MAX_STATE_MB = 250


def expected_dump_seconds(state_bytes: int) -> float:
    """How long one dump of a state file of `state_bytes` lasts (the measured line)."""
    return DUMP_SECONDS_FIXED + state_bytes / 1_000_000 * DUMP_SECONDS_PER_MB


def load_seconds(state_bytes: int) -> float:
    """How long a node takes to load a state file of `state_bytes` before it answers (the measured line)."""
    return state_bytes / 1_000_000 * LOAD_SECONDS_PER_MB


def state_interval_for(state_bytes: int, max_share: float = DUMP_SHARE, minimum: int = MIN_STATE_INTERVAL) -> int:
    """Seconds between dumps of a state file of `state_bytes` so that they take at most `max_share` of the
    node's time. A dump of D seconds is followed by an interval I before the next one starts, so dumps
    take D / (D + I) of the time: at most `max_share` when I >= D * (1 - max_share) / max_share.
    A longer interval means a hard kill loses more (see `kill_loses_seconds`)."""
    if not 0 < max_share < 1:
        raise ValueError(f"max_share must be between 0 and 1, not {max_share}")
    dump = expected_dump_seconds(max(0, state_bytes))
    return max(minimum, math.ceil(dump * (1 - max_share) / max_share))


def kill_loses_seconds(state_bytes: int, interval: int) -> float:
    """At most how many seconds of transactions a hard kill loses when the file survives it: a dump holds the
    chain as it was when the dump began, and a kill just before the next dump's write loses the rest of that
    dump, the interval and the next dump's serialising (at most an interval and two dumps). A kill during the
    write itself leaves the file truncated, and anvil refuses to load it."""
    return interval + 2 * expected_dump_seconds(state_bytes)


class AnvilUnavailable(RuntimeError):
    """No runnable anvil binary on this machine."""


class StateFileTruncated(AnvilUnavailable):
    """The saved state ends mid-way: the node was killed while it rewrote the file, and anvil cannot load it."""


def state_file_complete(path: Path) -> bool:
    """Whether a saved state ends its JSON object (a file cut short by a kill during a dump does not; one
    cut at a closing brace is caught by anvil itself, which then refuses to start)."""
    with path.open("rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - 64))
        return f.read().rstrip().endswith(b"}")


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


def fresh_history(path: Path) -> None:
    """An empty directory for a starting node's block states (what a previous process left is unreadable)."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)


NodeHistory = Literal["disk", "memory"]  # where a node keeps its older blocks' states (see the module's docstring)


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
    # With automine, also mine a block of whatever the pool holds every `sweep_seconds`: anvil's automine
    # can leave ready transactions unmined when they arrive out of nonce order (foundry-rs/foundry#10122).
    # Off by default (a chain that moves only when sent to); on for the node that serves the service.
    sweep_seconds: int | None = None
    # Where anvil writes its older blocks' states (see the module's docstring); None: a temporary
    # directory made when the node starts.
    history_dir: Path | None = None
    # "disk": older block states written to `history_dir` (calls reach further back); "memory": kept in memory
    # only (the node spends half the CPU per transaction; see the module's docstring).
    history: NodeHistory = "disk"
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _own_history: bool = field(default=False, repr=False)
    # The node's own output goes to a file: an unread pipe would fill up and stall the node.
    log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        cmd = [
            str(anvil_binary()),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--hardfork",
            EVM_VERSION,
            "--silent",
            # Free gas, as on the production network (Besu QBFT with zeroBaseFee and min-gas-price 0): members
            # transact from accounts that hold no ether.
            *FREE_GAS,
        ]
        if self.history_dir is not None:
            cmd += ["--cache-path", str(self.history_dir)]
        if self.history == "memory":
            cmd += ["--max-persisted-states", "0"]
        if self.state_file is not None:
            cmd += ["--state", str(self.state_file)]
            if self.state_interval:
                cmd += ["--state-interval", str(self.state_interval)]
        if self.block_time:
            cmd += ["--block-time", str(self.block_time)]
        elif self.sweep_seconds:
            cmd += ["--mixed-mining", "--block-time", str(self.sweep_seconds)]
        return cmd

    def start(self, timeout: float = 20.0) -> AnvilNode:
        if self.history_dir is None:
            self.history_dir, self._own_history = Path(tempfile.mkdtemp(prefix="anvil-history-")), True
        else:
            fresh_history(self.history_dir)
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        self.process = subprocess.Popen(self.command(), stdout=self.log, stderr=self.log)
        try:
            wait_until_answering(self.url, timeout, self.process, self.log)
        except AnvilUnavailable:
            self.stop()
            raise
        return self

    def fund(self, address: str, wei: int = 10**21) -> None:
        """Set an account's balance (anvil's development RPC; local nodes only)."""
        fund(self.url, address, wei)

    def stop(self, hard: bool = False) -> None:
        """Stop the node; `hard` kills it without letting it dump its state."""
        if self.process is None or self.process.poll() is not None:
            self._close_log()
            self._remove_history()
            return
        if hard:
            self.process.kill()
        else:
            self.process.terminate()
        # A normal stop writes a last dump: killed before it ends, the file would be left truncated.
        size = self.state_file.stat().st_size if self.state_file is not None and self.state_file.exists() else 0
        try:
            self.process.wait(timeout=max(10.0, 3 * expected_dump_seconds(size)))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._close_log()
        self._remove_history()

    def _remove_history(self) -> None:
        if self.history_dir is not None:
            shutil.rmtree(self.history_dir, ignore_errors=True)
            if self._own_history:
                self.history_dir, self._own_history = None, False

    def _close_log(self) -> None:
        if self.log is not None:
            self.log.close()
            self.log = None

    def __enter__(self) -> AnvilNode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def fund(url: str, address: str, wei: int = 10**21) -> None:
    """Set an account's balance on an anvil node (its development RPC; local nodes only)."""
    reply = httpx.post(
        url, json={"jsonrpc": "2.0", "id": 1, "method": "anvil_setBalance", "params": [address, hex(wei)]}, timeout=10
    ).json()
    if "error" in reply:
        raise RuntimeError(f"anvil_setBalance failed: {reply['error']}")


def answers(url: str) -> bool:
    try:
        httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}, timeout=1)
    except httpx.HTTPError:
        return False
    return True


def wait_until_answering(url: str, timeout: float, process: subprocess.Popen[bytes] | None = None,
                         log: IO[bytes] | None = None) -> None:
    """Wait for the node at `url`; if its `process` exits first, say why (the tail of its `log`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AnvilUnavailable(f"anvil exited with {process.returncode}: {_tail(log)}")
        if answers(url):
            return
        time.sleep(0.05)
    raise AnvilUnavailable(f"anvil did not answer on {url} within {timeout} s")


def _tail(log: IO[bytes] | None, size: int = 2000) -> str:
    if log is None:
        return ""
    log.flush()
    log.seek(0, os.SEEK_END)
    log.seek(max(0, log.tell() - size))
    return log.read().decode(errors="replace").strip()


# ---------------------------------------------------------------------- a node that outlives the command


@dataclass(frozen=True)
class LocalNode:
    """A detached anvil process recorded in the data directory (`node.json`, `anvil-state.json`)."""

    data_dir: Path

    @property
    def record_path(self) -> Path:
        return self.data_dir / "node.json"

    @property
    def state_file(self) -> Path:
        return self.data_dir / "anvil-state.json"

    @property
    def history_dir(self) -> Path:
        return self.data_dir / "anvil-history"

    def record(self) -> dict[str, int | str] | None:
        if not self.record_path.exists():
            return None
        data: dict[str, int | str] = json.loads(self.record_path.read_text())
        return data

    def running(self) -> bool:
        rec = self.record()
        return rec is not None and _alive(int(rec["pid"])) and answers(str(rec["url"]))

    def state_bytes(self) -> int:
        """The size of the saved state (0 before the first dump)."""
        try:
            return self.state_file.stat().st_size
        except FileNotFoundError:
            return 0

    def state_interval(self, requested: int | None = None) -> int:
        """The dump interval the node would start with: `requested`, or (None) the one `state_interval_for`
        chooses for the state file as it is now."""
        return requested if requested is not None else state_interval_for(self.state_bytes())

    def start(self, port: int = 8545, state_interval: int | None = None, timeout: float = 20.0,
              sweep_seconds: int | None = 1, history: NodeHistory = "disk") -> str:
        """Start the node (loading its saved state) unless it already runs; returns its URL.
        `state_interval`: seconds between dumps (None: chosen from the state file's size, see
        `state_interval_for`). `sweep_seconds` (None: blocks only for transactions) and `history`: see
        `AnvilNode`."""
        rec = self.record()
        if rec is not None and self.running():
            return str(rec["url"])
        private_dir(self.data_dir)  # the data directory: owner-only (0700)
        if self.state_bytes() and not state_file_complete(self.state_file):
            raise StateFileTruncated(f"{self.state_file} ends mid-way ({self.state_bytes():,} bytes): the node was "
                                     "killed while it rewrote its state, which anvil cannot load")
        interval = self.state_interval(state_interval)
        node = AnvilNode(port, state_file=self.state_file, state_interval=interval, sweep_seconds=sweep_seconds,
                         history_dir=self.history_dir, history=history)
        fresh_history(self.history_dir)
        with (self.data_dir / "anvil.log").open("ab+") as log:
            process = subprocess.Popen(node.command(), stdout=log, stderr=log, start_new_session=True)
            # Loading the saved state takes time in proportion to its size as well.
            wait_until_answering(node.url, max(timeout, 3 * load_seconds(self.state_bytes())), process, log)
        self.record_path.write_text(json.dumps({"pid": process.pid, "url": node.url, "port": port,
                                                "state_interval": interval, "history": history}))
        return node.url

    def stop(self, hard: bool = False, timeout: float = 15.0) -> bool:
        """Stop the node; it saves its state on a normal stop. `hard` kills it without saving
        (as a crash would: what came after the last periodic dump is lost). False if none ran."""
        rec = self.record()
        if rec is None:
            return False
        pid = int(rec["pid"])
        stopped = False
        if _alive(pid):
            os.kill(pid, signal.SIGKILL if hard else signal.SIGTERM)
            # A normal stop writes a last dump first, which lasts as long as the file is large (with margin).
            deadline = time.monotonic() + max(timeout, 3 * expected_dump_seconds(self.state_bytes()))
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            stopped = True
        self.record_path.unlink(missing_ok=True)
        shutil.rmtree(self.history_dir, ignore_errors=True)
        return stopped


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

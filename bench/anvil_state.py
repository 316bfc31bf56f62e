"""Benchmark: how the local node's state file grows with the history, and what its periodic dumps cost.

    python bench/anvil_state.py                                  # steps up to 128,000 transfers
    python bench/anvil_state.py --steps 2000,8000 --window 3     # a shorter run
    python bench/anvil_state.py --port 8545                      # a fixed port (default: a free one)

anvil (`--state FILE --state-interval 1`, as `carbonledger chain start` ran it before it chose the interval
by size; `--interval` for another) serialises its whole chain - every block, transaction and receipt - to
JSON and rewrites the file in place; after a dump ends it waits one interval before the next, so a dump of
D seconds takes D / (interval + D) of the node's time.

Set-up (not timed): the suite is deployed; enterprises and traders are admitted and hold allowances
of a few vintages. Then `--single` transfers are sent one per block, as the service's node mines them
(the per-transfer size that applies to the service), and `--empty-blocks` empty blocks are mined (the
node that serves the service also mines a block every second when nothing arrives: growth per day
when idle). Then allowance transfers are mined in bulk (impersonated accounts, JSON-RPC batch arrays,
automine off; `bench/trace_latency.py`) up to each of `--steps`; at each step:

- the state file's size once a dump of everything has been written; bytes per transfer;
- the dump's duration: the time between the ends of two consecutive dumps (the file's modification
  time) minus the interval, and the visible rewrite of the file; `anvil_dumpState` timed as well;
- the share of wall time taken by dumps at this interval, and by their rewrites of the file (the chance
  that a hard kill leaves it truncated: "kill!"); anvil's CPU while otherwise idle;
- a foreground client (an `eth_call` of a balance and a transfer sent with automine on, alternately):
  p50/p99 of requests that overlapped a dump and of those that did not (the node without dumps);
- anvil's resident memory, now and at its peak.

At the end the node is stopped (its final dump timed) and restarted from the file (load timed).
The last line printed is one JSON object: figures per 100 MB are medians over the steps (a step that other
work on the machine slowed down does not skew them); sizes per transfer are measured or fitted.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eth_abi import encode
from eth_account import Account
from eth_utils import keccak
from web3 import HTTPProvider, Web3

from bench.trace_latency import (
    BULK_GAS,
    ENTERPRISE_KIND,
    PARK_KIND,
    TRADING_KIND,
    TRANSFER_SELECTOR,
    Rpc,
    percentile,
    tx,
)
from ledger_core.chain.anvil import AnvilNode, free_port, wait_until_answering
from ledger_core.chain.compiler import build
from ledger_core.chain.deploy import deploy_suite
from ledger_core.chain.errors import RevertDecoder
from ledger_core.chain.sender import TransactionSender
from ledger_core.chain.suite import Suite

MB = 1_000_000
NS = 1_000_000_000
SECONDS_PER_DAY = 86_400
DEFAULT_STEPS = "8000,16000,32000,48000,64000,96000,128000"


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------- the state file, watched


@dataclass(frozen=True)
class Dump:
    """One periodic dump: it started `interval` after the previous one ended (`start_ns`, inferred) and
    ended when the file was last written (`end_ns`, its modification time); `write_start_ns`: when the
    file was first seen changing (the rewrite itself).

    File times are as coarse as the kernel's clock tick (a few ms): a dump shorter than that can show its
    end before its inferred start. It took no measurable time, so it counts as 0, never as negative."""

    start_ns: int
    write_start_ns: int
    end_ns: int
    size: int

    @property
    def ms(self) -> float:
        return max(0, self.end_ns - self.start_ns) / 1e6

    @property
    def write_ms(self) -> float:
        return max(0, self.end_ns - self.write_start_ns) / 1e6


class FileWatcher:
    """Polls the state file (size, modification time, inode) every `poll` seconds in a thread; a run of
    changes followed by `settle` seconds without one is a completed dump."""

    def __init__(self, path: Path, interval: int, poll: float = 0.002, settle: float = 0.05) -> None:
        self.path, self.interval_ns, self.poll, self.settle_ns = path, interval * NS, poll, int(settle * NS)
        self.dumps: list[Dump] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> FileWatcher:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join()

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return st.st_size, st.st_mtime_ns, st.st_ino

    def _complete(self, size: int, previous_size: int) -> bool:
        """Whether the file holds a whole dump: it ends its JSON object and is no smaller than the last one
        (the chain only grows); a writer that merely paused mid-file fails one or the other."""
        if size < 0.98 * previous_size:
            return False
        try:
            with self.path.open("rb") as f:
                f.seek(-1, os.SEEK_END)
                return f.read(1) == b"}"
        except (FileNotFoundError, OSError):
            return False

    def _run(self) -> None:
        last = self._stat()
        write_start: int | None = None
        last_change = 0
        previous_end: int | None = None
        previous_size = 0
        while not self.stopping.is_set():
            time.sleep(self.poll)
            now = time.time_ns()
            seen = self._stat()
            if seen != last:
                if write_start is None:
                    write_start = now
                last, last_change = seen, now
            elif (write_start is not None and seen is not None and now - last_change > self.settle_ns
                  and self._complete(seen[0], previous_size)):
                size, end, _ = seen
                if previous_end is not None:  # the first one seen: when it started is unknown
                    with self.lock:
                        self.dumps.append(Dump(previous_end + self.interval_ns, min(write_start, end), end, size))
                previous_end, previous_size, write_start = end, size, None

    def completed(self, after_ns: int = 0) -> list[Dump]:
        with self.lock:
            return [d for d in self.dumps if d.start_ns >= after_ns]

    def wait_past(self, t_ns: int, timeout: float = 600.0) -> list[Dump]:
        """Wait until no dump that started before `t_ns` is still running (the next starts after it)."""
        deadline = time.monotonic() + timeout
        while not ((done := self.completed()) and done[-1].end_ns + self.interval_ns > t_ns):
            if time.monotonic() > deadline:
                raise RuntimeError(f"a dump of {self.path} did not end within {timeout} s")
            time.sleep(0.02)
        return done

    def wait(self, after_ns: int, count: int = 1, timeout: float = 600.0) -> list[Dump]:
        """Wait for `count` dumps that started after `after_ns` (they hold everything before it)."""
        deadline = time.monotonic() + timeout
        while len(done := self.completed(after_ns)) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"fewer than {count} dumps of {self.path} within {timeout} s")
            time.sleep(0.02)
        return done


# ---------------------------------------------------------------------- the node and its members


@dataclass
class Market:
    """Members holding allowances on a node, and the transfers sent to it so far."""

    rpc: Rpc
    registry: str
    holders: list[str]
    years: list[int]
    rng: random.Random
    transfers: int = 0

    def transfer(self) -> dict[str, Any]:
        src, dst = self.rng.sample(self.holders, 2)
        data = "0x" + (TRANSFER_SELECTOR + encode(["address", "address", "uint256", "uint256", "bytes"],
                                                  [src, dst, self.rng.choice(self.years), self.rng.randint(1, 9),
                                                   b""])).hex()
        self.transfers += 1
        return {"from": src, "to": self.registry, "data": data, "gas": hex(BULK_GAS), "gasPrice": "0x0"}

    def balance_call(self) -> dict[str, Any]:
        holder = self.rng.choice(self.holders)
        data = "0x" + (keccak(text="balanceOf(address,uint256)")[:4]
                       + encode(["address", "uint256"], [holder, self.rng.choice(self.years)])).hex()
        return {"to": self.registry, "data": data}


def prepare(node: AnvilNode, enterprises: int, traders: int, years: int, rng: random.Random) -> Market:
    """Deploy the suite; admit `enterprises` and `traders`, allocate `years` vintages and seed the traders."""
    w3 = Web3(HTTPProvider(node.url, request_kwargs={"timeout": 600}))
    rpc = Rpc(node.url)
    rpc.call("evm_setBlockGasLimit", hex(2_000_000_000))
    artifacts = build()
    regulator = Account.from_key(keccak(text="bench-state-regulator"))
    node.fund(regulator.address)
    deployment = deploy_suite(TransactionSender(w3, regulator, RevertDecoder.from_artifacts(artifacts.values())),
                              artifacts, network="bench")
    suite = Suite(w3, artifacts, deployment)
    reg = regulator.address
    firms = {100 + i: Account.from_key(keccak(text=f"bench-state-enterprise-{i}")).address for i in range(enterprises)}
    dealers = [Account.from_key(keccak(text=f"bench-state-trader-{i}")).address for i in range(traders)]
    for account in [reg, *firms.values(), *dealers]:
        rpc.call("anvil_impersonateAccount", account)
    setup = [tx(suite, reg, "Membership", "registerOrganisation", 10, 0, PARK_KIND, "Park"),
             tx(suite, reg, "Membership", "registerOrganisation", 7000, 0, TRADING_KIND, "Traders")]
    for org, account in firms.items():
        setup += [tx(suite, reg, "Membership", "registerOrganisation", org, 10, ENTERPRISE_KIND, f"E{org}"),
                  tx(suite, reg, "Membership", "admit", account, org, [keccak(text="ENTERPRISE")])]
    setup += [tx(suite, reg, "Membership", "admit", t, 7000, [keccak(text="TRADER")]) for t in dealers]
    assert rpc.send_all(setup) == len(setup)
    vintages = list(range(2025 - years + 1, 2026))
    allocations = [tx(suite, reg, "AllowanceRegistry", "allocate", y, list(firms.values()), [10**9] * len(firms))
                   for y in vintages]
    assert rpc.send_all(allocations) == len(allocations)
    seeding = [tx(suite, e, "AllowanceRegistry", "safeTransferFrom", e, t, y, 10**6, b"")
               for y in vintages for i, t in enumerate(dealers) for e in [list(firms.values())[i % len(firms)]]]
    assert rpc.send_all(seeding) == len(seeding)
    return Market(rpc, deployment.addresses["AllowanceRegistry"], [*firms.values(), *dealers], vintages, rng)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def memory_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory now (`VmRSS`) or at its peak so far (`VmHWM`), from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024 / MB
    return float("nan")


# ---------------------------------------------------------------------- one step


@dataclass
class Request:
    kind: str  # "call" or "send"
    start_ns: int
    end_ns: int

    @property
    def ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6


def label(transfers: int) -> str:
    """A step's name in the figures' keys: 8000 -> "8k", 150 -> "150"."""
    return f"{transfers // 1000}k" if transfers % 1000 == 0 else str(transfers)


@dataclass
class Step:
    target: int  # the transfers mined in bulk up to this step (foreground ones come on top)
    transfers: int
    state_mb: float
    dump_ms: float
    write_ms: float
    dump_rpc_ms: float
    dump_share: float
    write_share: float
    idle_cpu_cores: float
    rss_mb: float
    peak_rss_mb: float
    mined_per_s: float
    requests: list[Request] = field(repr=False)
    during: dict[str, list[float]] = field(repr=False)
    quiet: dict[str, list[float]] = field(repr=False)

    @property
    def dump_cpu_ms(self) -> float:
        """anvil's CPU time per dump (idle otherwise: each cycle is one dump and one interval of waiting)."""
        return self.idle_cpu_cores * self.dump_ms / self.dump_share  # a cycle lasts dump_ms / dump_share

    def figure(self, kind: str, p: float, during: bool) -> float | None:
        values = (self.during if during else self.quiet)[kind]
        return round(percentile(values, p), 2) if values else None


def foreground(market: Market, seconds: float) -> list[Request]:
    """One client, in turn: an eth_call of a balance, and a transfer mined at once (automine)."""
    requests: list[Request] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        kind = "call" if len(requests) % 2 == 0 else "send"
        t0 = time.time_ns()
        if kind == "call":
            market.rpc.call("eth_call", market.balance_call(), "latest")
        else:
            market.rpc.call("eth_sendTransaction", market.transfer())
        requests.append(Request(kind, t0, time.time_ns()))
    return requests


def measure(market: Market, node: AnvilNode, watcher: FileWatcher, window: float, min_dumps: int,
            target: int, mined_per_s: float) -> Step:
    """Right after mining: an idle window of at least `window` seconds and `min_dumps` dumps (the last holds
    everything mined), a timed dump RPC, then a foreground window."""
    assert node.process is not None
    pid = node.process.pid
    t_idle, cpu0 = time.time_ns(), cpu_seconds(pid)
    watcher.wait(t_idle, min_dumps)
    while (time.time_ns() - t_idle) / NS < window:
        time.sleep(0.02)
    idle_s = (time.time_ns() - t_idle) / NS
    idle_cpu = (cpu_seconds(pid) - cpu0) / idle_s
    idle_dumps = watcher.completed(t_idle)
    settled = idle_dumps[-1]
    t0 = time.perf_counter()
    market.rpc.call("anvil_dumpState")
    dump_rpc_ms = (time.perf_counter() - t0) * 1000
    # Foreground: requests that overlapped a dump (from the previous one's end plus the interval to its last
    # write) against those that did not; a dump still running when the window closes is waited for.
    requests = foreground(market, max(window, 0.05))
    dumps = watcher.wait_past(requests[-1].end_ns)
    spans = [(d.start_ns, d.end_ns) for d in dumps if d.end_ns > requests[0].start_ns]
    during: dict[str, list[float]] = {"call": [], "send": []}
    quiet: dict[str, list[float]] = {"call": [], "send": []}
    for r in requests:
        overlaps = any(r.start_ns < end and r.end_ns > start for start, end in spans)
        (during if overlaps else quiet)[r.kind].append(r.ms)
    dump_ms = statistics.median(d.ms for d in idle_dumps)
    write_ms = statistics.median(d.write_ms for d in idle_dumps)
    return Step(
        target=target,
        transfers=market.transfers,
        state_mb=settled.size / MB,
        dump_ms=dump_ms,
        write_ms=write_ms,
        dump_rpc_ms=dump_rpc_ms,
        # After a dump ends anvil waits a whole interval before the next one starts.
        dump_share=dump_ms / (dump_ms + watcher.interval_ns / 1e6),
        # anvil truncates the file and writes it again in place: a hard kill meanwhile leaves it unreadable.
        write_share=write_ms / (dump_ms + watcher.interval_ns / 1e6),
        idle_cpu_cores=idle_cpu,
        rss_mb=memory_mb(pid),
        peak_rss_mb=memory_mb(pid, "VmHWM"),
        mined_per_s=mined_per_s,
        requests=requests,
        during=during,
        quiet=quiet,
    )


# ---------------------------------------------------------------------- fitting and reporting


def fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares line through (xs, ys): (slope, intercept)."""
    if len(xs) < 2:
        return (ys[0] / xs[0] if xs and xs[0] else 0.0), 0.0
    slope, intercept = statistics.linear_regression(xs, ys)
    return slope, intercept


def print_table(steps: list[Step]) -> None:
    print(f"{'transfers':>9} {'state MB':>9} {'B/transfer':>10} {'dump ms':>8} {'write ms':>8} {'rpc ms':>8} "
          f"{'share':>6} {'kill!':>6} {'idle cpu':>8} {'RSS MB':>7} {'peak MB':>7} {'mined/s':>8} "
          f"{'call p50/p99 quiet':>18} {'call p50/p99 dump':>18} {'send p50/p99 quiet':>18} {'send p50/p99 dump':>18}")

    def pair(step: Step, kind: str, during: bool) -> str:
        return f"{step.figure(kind, 50, during) or '-'}/{step.figure(kind, 99, during) or '-'}"

    for s in steps:
        print(f"{s.transfers:>9,} {s.state_mb:>9.1f} {s.state_mb * MB / s.transfers:>10,.0f} {s.dump_ms:>8.0f} "
              f"{s.write_ms:>8.0f} {s.dump_rpc_ms:>8.0f} {s.dump_share:>6.2f} {s.write_share:>6.2f} "
              f"{s.idle_cpu_cores:>8.2f} {s.rss_mb:>7.0f} {s.peak_rss_mb:>7.0f} {s.mined_per_s:>8,.0f} "
              f"{pair(s, 'call', False):>18} {pair(s, 'call', True):>18} "
              f"{pair(s, 'send', False):>18} {pair(s, 'send', True):>18}")


def per_100_mb(values: list[float], sizes: list[float]) -> float:
    """The median over the steps of each figure per 100 MB of state: robust to a step that other work on the
    machine slowed down."""
    return round(statistics.median(v / mb * 100 for v, mb in zip(values, sizes, strict=True) if mb > 0), 1)


def headline(steps: list[Step], interval: int, single_bytes: float | None, empty_block_bytes: float | None,
             stop_s: float, load_s: float) -> dict[str, Any]:
    """The figures the README cites: medians over the steps of figures per 100 MB, and the largest step's."""
    sizes = [s.state_mb for s in steps]
    bulk_mb_per_transfer = fit([float(s.transfers) for s in steps], sizes)[0]
    # The service's node mines a block per transfer: its figure converts sizes to transfers when measured.
    mb_per_transfer = single_bytes / MB if single_bytes else bulk_mb_per_transfer
    dump_ms_per_100_mb = per_100_mb([s.dump_ms for s in steps], sizes)
    rss_slope, rss_fixed = fit(sizes, [s.rss_mb for s in steps])

    def size_where_dumps_take(share: float) -> float | None:
        """The state (MB) at which dumps take `share` of the time at this interval: D / (D + I) = share."""
        dump_ms = share / (1 - share) * interval * 1000
        return dump_ms / dump_ms_per_100_mb * 100 if dump_ms_per_100_mb > 0 else None

    tenth, half = size_where_dumps_take(0.1), size_where_dumps_take(0.5)

    def transfers(mb: float | None) -> int | None:
        return int(round(mb / mb_per_transfer, -3)) if mb and mb_per_transfer > 0 else None

    last = steps[-1]
    return {
        "state_mb_per_1000_transfers": round(mb_per_transfer * 1000, 2),
        "state_mb_per_1000_transfers_bulk": round(bulk_mb_per_transfer * 1000, 2),
        "state_kb_per_empty_block": round(empty_block_bytes / 1000, 2) if empty_block_bytes else None,
        "state_mb_per_day_of_1s_blocks": round(empty_block_bytes * SECONDS_PER_DAY / MB, 1)
        if empty_block_bytes else None,
        "dump_ms_per_100_mb": dump_ms_per_100_mb,
        "dump_cpu_ms_per_100_mb": per_100_mb([s.dump_cpu_ms for s in steps], sizes),
        "write_ms_per_100_mb": per_100_mb([s.write_ms for s in steps], sizes),
        "dump_rpc_ms_per_100_mb": per_100_mb([s.dump_rpc_ms for s in steps], sizes),
        **{f"state_mb_{label(s.target)}": round(s.state_mb, 2) for s in steps},
        **{f"dump_ms_{label(s.target)}": round(s.dump_ms) for s in steps},
        **{f"dump_share_at_{interval}s_interval_{label(s.target)}": round(s.dump_share, 3) for s in steps},
        **{f"kill_truncates_chance_at_{interval}s_interval_{label(s.target)}": round(s.write_share, 3)
           for s in steps},
        f"state_mb_until_dumps_take_tenth_at_{interval}s": round(tenth) if tenth else None,
        f"state_mb_until_dumps_take_half_at_{interval}s": round(half) if half else None,
        "transfers_until_dumps_take_tenth": transfers(tenth),
        "transfers_until_dumps_take_half": transfers(half),
        "rss_mb_per_100_mb_state": round(rss_slope * 100, 1),
        "rss_mb_fixed": round(rss_fixed, 1),
        "peak_rss_mb_per_100_mb_state": round(fit(sizes, [s.peak_rss_mb for s in steps])[0] * 100, 1),
        "stop_s_per_100_mb": round(stop_s / last.state_mb * 100, 2),
        "load_s_per_100_mb": round(load_s / last.state_mb * 100, 2),
        "largest_state_mb": round(last.state_mb, 1),
        "largest_transfers": last.transfers,
        "largest_dump_ms": round(last.dump_ms),
        "call_p50_ms_quiet_largest": last.figure("call", 50, False),
        "call_p99_ms_quiet_largest": last.figure("call", 99, False),
        "call_p99_ms_during_dumps_largest": last.figure("call", 99, True),
        "send_p50_ms_quiet_largest": last.figure("send", 50, False),
        "send_p99_ms_quiet_largest": last.figure("send", 99, False),
        "send_p99_ms_during_dumps_largest": last.figure("send", 99, True),
    }


def check_mined(market: Market, sample: int = 5) -> None:
    """A few transfers of the last bulk block succeeded (the bulk path does not read every receipt)."""
    head = int(market.rpc.call("eth_blockNumber"), 16)
    hashes = market.rpc.call("eth_getBlockByNumber", hex(head - 1), False)["transactions"]
    assert hashes, f"block {head - 1} is empty"
    for h in market.rng.sample(hashes, min(sample, len(hashes))):
        assert market.rpc.call("eth_getTransactionReceipt", h)["status"] == "0x1", h


def settled_size(watcher: FileWatcher) -> int:
    """The file's size once a dump that started after everything sent so far has been written."""
    return watcher.wait(time.time_ns(), 1)[-1].size


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", default=DEFAULT_STEPS, help="cumulative transfers to measure at, comma-separated")
    parser.add_argument("--interval", type=int, default=1, help="seconds between dumps (anvil --state-interval)")
    parser.add_argument("--window", type=float, default=5.0, help="seconds of each idle and foreground window")
    parser.add_argument("--min-dumps", type=int, default=3, help="whole dumps in each window, at least")
    parser.add_argument("--single", type=int, default=300, help="transfers sent one per block at the start")
    parser.add_argument("--empty-blocks", type=int, default=300, help="empty blocks mined at the start")
    parser.add_argument("--chunk", type=int, default=2000, help="transfers per bulk block")
    parser.add_argument("--port", type=int, default=0, help="the node's port (default: a free one)")
    parser.add_argument("--enterprises", type=int, default=10)
    parser.add_argument("--traders", type=int, default=10)
    parser.add_argument("--years", type=int, default=10)
    args = parser.parse_args(argv)
    steps_at = sorted(int(s) for s in args.steps.split(","))

    workdir = tempfile.TemporaryDirectory()
    state = Path(workdir.name) / "anvil-state.json"
    node = AnvilNode(args.port or free_port(), state_file=state, state_interval=args.interval).start()
    steps: list[Step] = []
    try:
        log("deploying the suite and admitting members ...")
        market = prepare(node, args.enterprises, args.traders, args.years, random.Random(7))
        with FileWatcher(state, args.interval) as watcher:
            market.rpc.call("evm_setAutomine", True)
            single_bytes = empty_block_bytes = None
            if args.single or args.empty_blocks:
                size = settled_size(watcher)
            if args.single:
                for _ in range(args.single):  # one at a time: automine puts each in a block of its own
                    market.rpc.call("eth_sendTransaction", market.transfer())
                size, before = settled_size(watcher), size
                single_bytes = (size - before) / args.single
                log(f"{single_bytes:,.0f} bytes per transfer in a block of its own")
            if args.empty_blocks:
                market.rpc.call("anvil_mine", hex(args.empty_blocks))
                size, before = settled_size(watcher), size
                empty_block_bytes = (size - before) / args.empty_blocks
                log(f"{empty_block_bytes:,.0f} bytes per empty block")
            for target in steps_at:
                todo = target - market.transfers
                t0 = time.perf_counter()
                if todo > 0:
                    market.rpc.send_all([market.transfer() for _ in range(todo)], chunk=args.chunk, check=False)
                    market.rpc.call("evm_mine")  # the head is a light block again
                    check_mined(market)
                mined_per_s = max(todo, 0) / (time.perf_counter() - t0)
                step = measure(market, node, watcher, args.window, args.min_dumps, target, mined_per_s)
                steps.append(step)
                log(f"{step.transfers:,} transfers: {step.state_mb:.1f} MB, dump {step.dump_ms:.0f} ms "
                    f"(share {step.dump_share:.2f}), RSS {step.rss_mb:.0f} MB, mined {mined_per_s:,.0f}/s")
        assert node.process is not None
        t0 = time.perf_counter()
        node.process.terminate()  # a normal stop: the last dump is written whatever it takes
        node.process.wait()
        stop_s = time.perf_counter() - t0
        node.stop()
        final_mb = state.stat().st_size / MB
        t0 = time.perf_counter()
        node.start(timeout=600)
        load_s = time.perf_counter() - t0
        wait_until_answering(node.url, 10)
        log(f"stopped (final dump of {final_mb:.1f} MB) in {stop_s:.2f} s; restarted from it in {load_s:.2f} s")
    finally:
        node.stop()
        workdir.cleanup()
    print_table(steps)
    print(json.dumps(headline(steps, args.interval, single_bytes, empty_block_bytes,
                              stop_s, load_s)))


if __name__ == "__main__":
    main()

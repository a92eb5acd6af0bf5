#!/usr/bin/env python3
"""Flood a running gereport with wrong-password logins and follow its resident memory.

Run by scripts/login-flood, which sets up the database and starts the service; this
file only talks HTTP to it and reads /proc/<pid>/status. Python 3.11 standard library.

Waves of --concurrency requests are opened at once (one TCP connection each, with
`Connection: close`); the next wave starts when every answer of the previous one is in.
After --duration seconds no wave is started and the requests still waiting are cut off
(their sockets closed); memory is then followed for --after seconds more. Every
request carries an `X-Forwarded-For: 10.a.b.c` of its own (or one of --addresses
addresses), a username drawn from the real accounts (--known-share of them) or a
fresh unknown one, and a wrong password.

VmRSS is read every 100 ms from a thread of its own; the kernel's own high-water mark
(VmHWM, reset before the flood through /proc/<pid>/clear_refs where allowed) catches
peaks between two samples.

Exit codes: 0 measured (whatever the result), 3 the service did not become ready,
2 bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import random
import secrets
import statistics
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

MB = 1024 * 1024  # as docs/BENCHMARKS.md (bench/city.rs): "MB" is 2^20 bytes
PEAK_TARGET_MB = 250
SETTLED_TARGET_MB = 150
SETTLE_WITHIN_S = 10


# --- /proc ------------------------------------------------------------------------


def proc_status(pid: int) -> dict[str, int] | None:
    """VmRSS, VmHWM (bytes) and Threads of a live process; None once it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            text = f.read()
    except OSError:
        return None
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key == "State" and rest.split()[:1] == ["Z"]:
            return None  # a zombie has no memory left to measure
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(rest.split()[0]) * 1024
        elif key == "Threads":
            out[key] = int(rest.split()[0])
    return out if "VmRSS" in out else None


def reset_hwm(pid: int) -> bool:
    """Reset the process's VmHWM to its current RSS (Linux >= 4.0, same owner)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


class Sampler(threading.Thread):
    """Appends (monotonic time, rss bytes, threads) every `interval` seconds."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, int, int]] = []
        self.died_at: float | None = None
        self._halt = threading.Event()

    def run(self) -> None:
        next_at = time.monotonic()
        while not self._halt.is_set():
            now = time.monotonic()
            st = proc_status(self.pid)
            if st is None:
                self.died_at = now
                return
            self.samples.append((now, st["VmRSS"], st.get("Threads", 0)))
            next_at += self.interval
            delay = next_at - time.monotonic()
            if delay < 0:  # fell behind (a busy machine): do not try to catch up
                next_at = time.monotonic()
                delay = 0
            self._halt.wait(delay)

    def stop(self) -> None:
        self._halt.set()
        self.join()


# --- readiness ------------------------------------------------------------------------


def wait_ready(port: int, pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc_status(pid) is None:
            return False
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            ok = conn.getresponse().status == 200
            conn.close()
            if ok:
                return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


# --- the flood -----------------------------------------------------------------------


@dataclass
class Tally:
    started: int = 0
    waves: int = 0
    statuses: Counter = field(default_factory=Counter)
    with_retry_after: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    cut_off: int = 0
    latencies: list[float] = field(default_factory=list)


def problem_code(body: bytes) -> str:
    """The `code` of an RFC 9457 problem body ("" for anything else)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return ""
    code = doc.get("code") if isinstance(doc, dict) else None
    return code if isinstance(code, str) else ""


def forwarded_for(n: int) -> str:
    """The n-th distinct address of 10.0.0.0/8 (host part 1..254)."""
    host = 1 + n % 254
    rest = n // 254
    return f"10.{(rest // 256) % 256}.{rest % 256}.{host}"


class Flood:
    def __init__(self, port: int, usernames: list[str], known_share: float, addresses: int, rng: random.Random):
        self.port = port
        self.addresses = addresses
        self.usernames = usernames
        self.known_share = known_share
        self.rng = rng
        self.next_address = 0
        self.tally = Tally()

    def request_bytes(self) -> bytes:
        if self.usernames and self.rng.random() < self.known_share:
            username = self.rng.choice(self.usernames)
        else:
            username = f"nobody-{secrets.token_hex(5)}"
        password = f"wrong-{secrets.token_urlsafe(12)}"
        body = json.dumps({"username": username, "password": password}).encode()
        if self.addresses:
            xff = forwarded_for(self.rng.randrange(self.addresses))
        else:
            xff = forwarded_for(self.next_address)
            self.next_address += 1
        head = (
            "POST /api/v1/auth/login HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{self.port}\r\n"
            "Content-Type: application/json\r\n"
            "Accept: application/json\r\n"
            f"X-Forwarded-For: {xff}\r\n"
            "Connection: close\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    async def one(self, payload: bytes) -> None:
        t = self.tally
        started = time.monotonic()
        writer = None
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            writer.write(payload)
            await writer.drain()
            line = await reader.readline()
            parts = line.split()
            if len(parts) < 2 or not parts[1].isdigit():
                t.errors["closed without an answer"] += 1
                return
            status = int(parts[1])
            length = None
            retry_after = False
            while True:
                h = await reader.readline()
                if h in (b"\r\n", b"\n", b""):
                    break
                name, _, value = h.decode("latin-1").partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value.strip())
                elif name == "retry-after":
                    retry_after = True
            body = await (reader.readexactly(length) if length is not None else reader.read())
            key = (status, problem_code(body))
            t.statuses[key] += 1
            if retry_after:
                t.with_retry_after[key] += 1
            t.latencies.append(time.monotonic() - started)
        except asyncio.CancelledError:
            t.cut_off += 1
            raise
        except (OSError, asyncio.IncompleteReadError, ValueError) as e:
            t.errors[type(e).__name__] += 1
        finally:
            if writer is not None:
                writer.close()

    async def run(self, concurrency: int, duration: float) -> tuple[float, float]:
        """Send waves until `duration` has passed; returns (start, stop) monotonic times."""
        start = time.monotonic()
        deadline = start + duration
        while (now := time.monotonic()) < deadline:
            tasks = [asyncio.create_task(self.one(self.request_bytes())) for _ in range(concurrency)]
            self.tally.started += concurrency
            self.tally.waves += 1
            _, pending = await asyncio.wait(tasks, timeout=deadline - now)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        return start, time.monotonic()


# --- the report ----------------------------------------------------------------------


def mb(b: float | None) -> str:
    return "n/a" if b is None else f"{b / MB:,.0f} MB"


def sample_at(samples: list[tuple[float, int, int]], t: float) -> int | None:
    """RSS of the first sample taken at or after t (None if there is none)."""
    for ts, rss, _ in samples:
        if ts >= t:
            return rss
    return None


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s)) - 1))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pid", type=int, required=True, help="the service's process id")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--concurrency", type=int, default=200)
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--after", type=float, default=12.0)
    ap.add_argument("--baseline", type=float, default=2.0, help="idle seconds sampled first")
    ap.add_argument("--usernames", default="", help="comma-separated real usernames")
    ap.add_argument("--known-share", type=float, default=0.5)
    ap.add_argument(
        "--addresses", type=int, default=0, help="draw X-Forwarded-For from this many addresses (0: a new one per request)"
    )
    ap.add_argument("--ready-timeout", type=float, default=90.0)
    ap.add_argument("--conditions", default="", help="one line describing the run, for the report")
    ap.add_argument("--samples-csv", default="", help="also write t,rss_bytes,threads here")
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args()
    if a.concurrency < 1 or a.duration <= 0 or a.after < SETTLE_WITHIN_S or not 0 <= a.known_share <= 1 or a.addresses < 0:
        ap.error(
            f"need --concurrency >= 1, --duration > 0, --after >= {SETTLE_WITHIN_S}, 0 <= --known-share <= 1, --addresses >= 0"
        )

    if not wait_ready(a.port, a.pid, a.ready_timeout):
        print(f"login-flood: the service (pid {a.pid}) did not answer /healthz on port {a.port}", file=sys.stderr)
        return 3

    usernames = [u.strip() for u in a.usernames.split(",") if u.strip()]
    flood = Flood(a.port, usernames, a.known_share, a.addresses, random.Random(a.seed))
    sampler = Sampler(a.pid)
    sampler.start()
    time.sleep(a.baseline)
    base_samples = [rss for _, rss, _ in sampler.samples]
    hwm_reset = reset_hwm(a.pid)
    print(
        f"login-flood: flooding for {a.duration:g} s in waves of {a.concurrency}, then watching for {a.after:g} s",
        file=sys.stderr,
    )
    t_start, t_stop = asyncio.run(flood.run(a.concurrency, a.duration))
    print("login-flood: flood stopped; watching memory settle", file=sys.stderr)
    # Keep sampling after the flood (the sampler stops early by itself if the process exits).
    end = t_stop + a.after + 0.25  # so that a sample at or after +after exists
    while time.monotonic() < end and sampler.died_at is None:
        time.sleep(0.05)
    st = proc_status(a.pid)
    sampler.stop()

    samples = sampler.samples
    t = flood.tally
    baseline = statistics.median(base_samples) if base_samples else None
    during = [s for s in samples if s[0] >= t_start]
    sampled_peak = max((rss for _, rss, _ in during), default=None)
    hwm = st.get("VmHWM") if (st and hwm_reset) else None
    peak = max((x for x in (sampled_peak, hwm) if x is not None), default=None)
    peak_threads = max((th for ts, _, th in during), default=None)
    after5 = sample_at(samples, t_stop + 5)
    after10 = sample_at(samples, t_stop + SETTLE_WITHIN_S)
    first_under = next(
        (ts - t_stop for ts, rss, _ in samples if ts >= t_stop and rss < SETTLED_TARGET_MB * MB), None
    )
    died = sampler.died_at is not None

    peak_ok = peak is not None and peak <= PEAK_TARGET_MB * MB
    settle_ok = after10 is not None and after10 < SETTLED_TARGET_MB * MB
    verdict_word = "MET" if (peak_ok and settle_ok and not died) else "MISSED"
    reasons = [
        f"peak {mb(peak)} {'≤' if peak_ok else '>'} {PEAK_TARGET_MB} MB",
        f"{mb(after10)} at +{SETTLE_WITHIN_S} s {'<' if settle_ok else '≥'} {SETTLED_TARGET_MB} MB"
        if after10 is not None
        else f"no reading at +{SETTLE_WITHIN_S} s",
    ]
    if died:
        reasons.append(f"the service exited {sampler.died_at - t_start:.1f} s after the flood began")
    verdict = f"{verdict_word} (peak ≤ {PEAK_TARGET_MB} MB and back under {SETTLED_TARGET_MB} MB within {SETTLE_WITHIN_S} s): " + "; ".join(reasons)

    answered = sum(t.statuses.values())
    rate = t.started / (t_stop - t_start)

    def status_text(sep: str, md: bool = False) -> str:
        parts = []
        for key in sorted(t.statuses):
            status, code = key
            n = t.statuses[key]
            ra = t.with_retry_after[key]
            note = ""
            if ra == n:
                note = " (all with Retry-After)"
            elif ra:
                note = f" ({ra:,} with Retry-After)"
            elif status in (429, 503):
                note = " (none with Retry-After)"
            label = f"{status} `{code}`" if (code and md) else (f"{status} {code}" if code else str(status))
            parts.append(f"{label}: {n:,}{note}")
        for name, n in sorted(t.errors.items()):
            parts.append(f"{name}: {n:,}")
        if t.cut_off:
            parts.append(f"unanswered when the flood stopped: {t.cut_off:,}")
        return sep.join(parts) if parts else "none"

    lat = ""
    if t.latencies:
        lat = f"p50 {percentile(t.latencies, 50) * 1000:,.0f} ms, p99 {percentile(t.latencies, 99) * 1000:,.0f} ms"
    if sampled_peak is not None and sampled_peak < SETTLED_TARGET_MB * MB and first_under is not None:
        under = "never above it"
    else:
        under = "not within the window" if first_under is None else f"+{first_under:.1f} s"
    # Whole seconds of the run, for reading the curve without a plot.
    curve = []
    sec = 0
    while True:
        ts = t_start + sec
        if ts > (samples[-1][0] if samples else 0):
            break
        rss = sample_at(samples, ts)
        if rss is None:
            break
        curve.append(f"{rss / MB:.0f}")
        sec += 1

    out = sys.stdout
    print("", file=out)
    print("login flood: resident memory of the service", file=out)
    if a.conditions:
        print(f"  conditions          {a.conditions}", file=out)
    print(f"  baseline RSS        {mb(baseline)} (median of {len(base_samples)} idle samples)", file=out)
    print(
        f"  peak RSS            {mb(peak)} (sampled every 100 ms: {mb(sampled_peak)}; kernel VmHWM: "
        f"{mb(hwm) if hwm is not None else 'not available'}); up to {peak_threads} threads",
        file=out,
    )
    print(f"  RSS +5 s after      {mb(after5)}", file=out)
    print(f"  RSS +10 s after     {mb(after10)}  (first under {SETTLED_TARGET_MB} MB: {under})", file=out)
    print(f"  RSS each second     {' '.join(curve)} MB (from the flood's start; it stopped at {t_stop - t_start:.1f} s)", file=out)
    print(
        f"  requests sent       {t.started:,} in {t.waves} waves of {a.concurrency} over {t_stop - t_start:.1f} s ({rate:,.0f}/s); {answered:,} answered"
        + (f", {lat}" if lat else ""),
        file=out,
    )
    print(f"  per status          {status_text(', ')}", file=out)
    print(f"  verdict             {verdict}", file=out)
    print("", file=out)

    print("----- Markdown for docs/BENCHMARKS.md -----", file=out)
    md = []
    md.append(f"### Login flood ({time.strftime('%Y-%m-%d')}, `scripts/login-flood`)")
    md.append("")
    if a.conditions:
        md.append(a.conditions)
        md.append("")
    where = (
        f"`X-Forwarded-For` drawn from {a.addresses:,} addresses"
        if a.addresses
        else "each from its own `X-Forwarded-For` address"
    )
    md.append(
        f"Waves of {a.concurrency} concurrent `POST /api/v1/auth/login` with a wrong password for {a.duration:g} s, "
        f"{where}, {a.known_share:.0%} of them for real usernames, "
        f"the rest for unknown ones; VmRSS sampled every 100 ms, and for {a.after:g} s after the flood."
    )
    md.append("")
    md.append("| measure | result | target | |")
    md.append("|---|---|---|---|")
    md.append(f"| RSS before the flood | {mb(baseline)} | | |")
    md.append(f"| peak RSS during the flood | {mb(peak)} | ≤ {PEAK_TARGET_MB} MB | {'met' if peak_ok else 'missed'} |")
    md.append(f"| RSS 5 s after the flood | {mb(after5)} | | |")
    md.append(
        f"| RSS 10 s after the flood | {mb(after10)} | < {SETTLED_TARGET_MB} MB | {'met' if settle_ok else 'missed'} |"
    )
    md.append(f"| requests sent | {t.started:,} ({rate:,.0f}/s){', answered in ' + lat if lat else ''} | | |")
    md.append(f"| answers (status, problem code) | {status_text('; ', md=True)} | | |")
    md.append("")
    md.append(f"Verdict: {verdict}.")
    print("\n".join(md), file=out)
    print("----- end -----", file=out)

    if a.samples_csv:
        with open(a.samples_csv, "w", encoding="ascii") as f:
            f.write("seconds_from_flood_start,rss_bytes,threads\n")
            for ts, rss, th in samples:
                f.write(f"{ts - t_start:.3f},{rss},{th}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

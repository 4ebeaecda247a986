"""The differential fuzzer's command line (run from the repository root):

    python -m tests.fuzz --seconds 600            # a long run: random seeds until the time is up
    python -m tests.fuzz --seeds 0 200            # seeds 0..199
    python -m tests.fuzz --seed 1234 --show       # one program: its steps and what disagrees

Each batch of seeds runs in a worker subprocess; a segfault, an abort or a hang in native code ends that
worker, the seed it was running is reported (crash or hang, with its seed) and a new worker goes on from the
next seed. The exit status is 1 when a finding is new (not in known.py). GRAPHC_FUZZ_BACKENDS=interp,numpy
limits the backends; GRAPHC_FUZZ_JAX=0 leaves JAX out.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SEED_TIMEOUT = 60.0  # seconds one program may take on every backend (compiles included) before it is a hang


def run_seeds(first: int, stop: int, seed_timeout: float = SEED_TIMEOUT, deadline=None, env=None) -> dict:
    """{seed: [findings]} for each seed of first..stop-1 reached before `deadline` (a time.monotonic() value;
    an empty list: every backend agreed); crash-isolated (see the module docstring)."""
    results: dict[int, list[str]] = {}
    with tempfile.TemporaryDirectory(prefix="graphc-fuzz-") as cache:
        env = {**os.environ, "GRAPHC_CACHE_DIR": cache, **(env or {})}
        while first < stop and (deadline is None or time.monotonic() < deadline):
            done, lost_seed, why = _one_worker(first, stop, seed_timeout, deadline, env)
            results.update(done)
            if lost_seed is None:  # the worker ended normally (all done, or out of time)
                break
            results[lost_seed] = [why]
            first = lost_seed + 1
    return results


def report(results: dict) -> tuple[str, int]:
    """The findings by seed, new ones first, then the known ones under their reasons; and how many seeds
    found something new."""
    from .known import known_reason
    from .programs import generate

    new, known = [], {}
    for seed, findings in sorted(results.items()):
        program = _program_or_none(generate, seed)
        fresh = [f for f in findings if known_reason(program, f) is None]
        for f in findings:
            reason = known_reason(program, f)
            if reason is not None:
                known.setdefault(reason, set()).add(seed)
        if fresh:
            new.append(f"seed {seed}:\n" + "\n".join(f"  {f}" for f in fresh))
    lines = new + [f"known ({', '.join(map(str, sorted(seeds)[:20]))}): {r}" for r, seeds in known.items()]
    return "\n".join(lines), len(new)


def _program_or_none(generate, seed: int):
    try:
        return generate(seed)
    except Exception:  # noqa: BLE001 - the report still lists the seed
        return None


def _one_worker(first: int, stop: int, seed_timeout: float, deadline, env) -> tuple[dict, int | None, str]:
    """Run seeds in one worker until it ends: (results, the seed it died on or None, why)."""
    command = [sys.executable, "-m", "tests.fuzz", "--worker", str(first), str(stop)]
    if deadline is not None:
        command += ["--until", str(time.time() + max(0.0, deadline - time.monotonic()))]
    done: dict[int, list[str]] = {}
    current = None
    clock = {"started": time.monotonic()}  # when the seed being run started
    # stderr goes to a file: a worker that writes a lot there must never block on a full pipe
    with (
        tempfile.TemporaryFile("w+") as errors,
        subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=errors, text=True
        ) as proc,
    ):
        try:
            for line in _lines(proc, seed_timeout, clock):
                record = json.loads(line)
                if record["event"] == "start":
                    current, clock["started"] = record["seed"], time.monotonic()
                else:
                    done[record["seed"]] = record["findings"]
                    current = None
        except TimeoutError:
            proc.kill()
            proc.wait()
            return done, current, f"hang: no result after {seed_timeout:.0f} s (killed)"
        proc.wait()
        if current is None and proc.returncode == 0:
            return done, None, ""
        errors.seek(0)
        tail = errors.read().strip().splitlines()[-3:]
        return done, current, f"crash: the worker died with status {proc.returncode}: {' | '.join(tail)}"


def _lines(proc, seed_timeout: float, clock: dict):
    """The worker's stdout lines, raising TimeoutError when one seed runs longer than seed_timeout. A thread
    reads them into a queue (select() on the pipe would miss lines already in the reader's buffer)."""
    lines: queue.Queue = queue.Queue()

    def read() -> None:
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    while True:
        try:
            line = lines.get(timeout=max(0.0, seed_timeout - (time.monotonic() - clock["started"])))
        except queue.Empty:
            raise TimeoutError from None
        if line is None:
            return
        yield line


def worker(seeds, until: float | None) -> None:
    """Check each seed, one JSON line when it starts and one with its findings (flushed: the parent reads
    them as they come, and knows which seed a crash ended)."""
    from .check import HAS_JAX, check
    from .programs import generate

    backends = os.environ.get("GRAPHC_FUZZ_BACKENDS")  # a subset, comma-separated (default: all)
    backends = backends.split(",") if backends else None
    use_jax = HAS_JAX and os.environ.get("GRAPHC_FUZZ_JAX") != "0"
    crash = os.environ.get("GRAPHC_FUZZ_CRASH_SEED")  # the harness's own tests: a seed that crashes / hangs
    hang = os.environ.get("GRAPHC_FUZZ_HANG_SEED")
    for seed in seeds:
        if until is not None and time.time() > until:
            return
        print(json.dumps({"event": "start", "seed": seed}), flush=True)
        if crash is not None and seed == int(crash):
            os.abort()
        if hang is not None and seed == int(hang):
            time.sleep(3600)
        try:
            findings = check(generate(seed), backends=backends, use_jax=use_jax)
        except Exception as exc:  # noqa: BLE001 - the harness must report, not stop
            findings = [f"harness: {type(exc).__name__}: {exc}"]
        print(json.dumps({"event": "done", "seed": seed, "findings": findings}), flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, help="run random seeds for this long")
    parser.add_argument("--seeds", type=int, nargs=2, metavar=("FIRST", "STOP"), help="seeds FIRST..STOP-1")
    parser.add_argument("--seed", type=int, help="one seed, in this process")
    parser.add_argument("--show", action="store_true", help="print the program of --seed")
    parser.add_argument("--worker", type=int, nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--until", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        worker(range(*args.worker), args.until)
        return 0
    if args.seed is not None:
        from .check import check
        from .programs import generate

        program = generate(args.seed)
        if args.show:
            print(program.describe())
        findings = check(program)
        print("\n".join(findings) or "no disagreement")
        return 1 if findings else 0
    start = time.monotonic()
    if args.seeds:
        (first, stop), deadline = args.seeds, None
    else:  # a fresh stretch of seeds each run
        first = int.from_bytes(os.urandom(4), "little") * 1000
        stop, deadline = first + 10**9, start + (args.seconds or 60.0)
    print(f"seeds from {first}", file=sys.stderr)
    results = run_seeds(first, stop, deadline=deadline)
    text, new = report(results)
    print(text)
    print(f"{len(results)} seeds, {new} with new findings, {time.monotonic() - start:.0f} s", file=sys.stderr)
    return 1 if new else 0


if __name__ == "__main__":
    sys.exit(main())

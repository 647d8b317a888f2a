"""The long fuzz run: `python -m tests.fuzz.run --minutes 30` (from the repository root).

Inputs are drawn from a seeded generator (the same seeds and mutations as the Hypothesis test), so input
number i of run --seed S can always be made again. Work happens in child processes watched from here: an
input that hangs even in C code (no answer for --kill-after seconds) or kills its process (a segfault) is
recorded like any other failure and the child is restarted. The first input of each distinct failure is
saved to --out with a text file saying what happened and how to make it again. Exit status 1 when anything
failed.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import multiprocessing as mp
import os
import random
import signal
import sys
import tempfile
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path

from . import harness, mutate, seeds

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "metadata"


@dataclass(frozen=True)
class Case:
    index: int
    family: str
    seed_number: int
    mutations: list[mutate.Mutation]
    face: bool

    def describe(self) -> str:
        return f"family {self.family}, seed {self.seed_number}, face={self.face}, mutations {self.mutations}"


def make_case(run_seed: int, index: int, pool: dict[str, tuple[bytes, ...]]) -> tuple[Case, bytes]:
    rng = random.Random(f"{run_seed}:{index}")
    family = rng.choice(sorted(pool))
    number = rng.randrange(len(pool[family]))
    case = Case(index, family, number, mutate.random_mutations(rng), rng.random() < 0.3)
    return case, mutate.apply(pool[family][number], case.mutations)


def _corpus_folder(path: str | None) -> Path | None:
    folder = Path(path) if path else CORPUS
    return folder if folder.is_dir() else None


def _quiet() -> None:
    """Decoders warn on stderr for every damaged file (and libtiff writes to fd 2 directly): silence both.
    The parent's stop handlers are not wanted here: a worker is ended by its parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    warnings.simplefilter("ignore")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)


def worker(conn: Connection, run_seed: int, start: int, step: int, corpus: str | None, max_bytes: int,
           hang_limit: float) -> None:
    _quiet()
    pool = seeds.all_seeds(_corpus_folder(corpus), max_bytes)
    index = start
    while True:
        case, data = make_case(run_seed, index, pool)
        outcome = harness.check(data, case.face, hang_limit)
        if any(p.kind == "slow" for p in outcome.problems):  # timings are noisy on a shared machine: confirm
            again = harness.check(data, case.face, hang_limit)
            outcome.problems = [p for p in outcome.problems if p.kind != "slow"] + [
                p for p in again.problems if p.kind == "slow"]
        conn.send((index, [(p.kind, p.operation, p.detail, p.signature) for p in outcome.problems],
                   outcome.seconds, outcome.verification_errors, outcome.typed))
        index += step


@dataclass
class Tally:
    tried: int = 0
    by_family: Counter[str] = field(default_factory=Counter)
    typed: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    first: dict[str, str] = field(default_factory=dict)
    verification_errors: int = 0
    slowest: float = 0.0
    slowest_index: int = -1


@dataclass
class Worker:
    proc: mp.process.BaseProcess
    conn: Connection
    last: int  # the last input index it finished
    since: float  # when it last answered


class Run:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.workers: list[Worker] = []
        self.pool = seeds.all_seeds(_corpus_folder(args.corpus), args.corpus_max_bytes)
        self.tally = Tally()
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)

    def record(self, index: int, kind: str, operation: str, detail: str, signature: str) -> None:
        tally = self.tally
        tally.failures[signature] += 1
        if signature in tally.first:
            return
        case, data = make_case(self.args.seed, index, self.pool)
        name = hashlib.sha256(signature.encode()).hexdigest()[:12]
        (self.out / f"{name}.bin").write_bytes(data)
        (self.out / f"{name}.txt").write_text(
            f"{kind} in {operation}: {detail}\nsignature: {signature}\ninput {index} of --seed {self.args.seed}: "
            f"{case.describe()}\n")
        tally.first[signature] = f"{kind} in {operation}: {detail} (input {index}, saved as {name}.bin)"
        print(f"[{time.strftime('%H:%M:%S')}] NEW {tally.first[signature]}", flush=True)

    def spawn(self, first: int) -> Worker:
        parent, child = mp.Pipe(duplex=False)
        proc = mp.Process(target=worker, daemon=True, args=(child, self.args.seed, first, self.args.jobs,
                                                            self.args.corpus, self.args.corpus_max_bytes,
                                                            self.args.kill_after / 4))
        proc.start()
        child.close()
        return Worker(proc, parent, first - self.args.jobs, time.monotonic())

    def lost(self, slot: int, kind: str, why: str) -> None:
        """The worker in `slot` hung or died on its next input: record that input, start a new worker after it."""
        w = self.workers[slot]
        w.proc.kill()
        w.proc.join()
        index = w.last + self.args.jobs
        self.tally.tried += 1
        self.record(index, kind, "any", why, f"{kind}:{index}")  # rare, and each may be a different bug
        self.workers[slot] = self.spawn(index + self.args.jobs)

    def loop(self) -> None:
        deadline = time.monotonic() + self.args.minutes * 60
        self.workers = [self.spawn(k) for k in range(self.args.jobs)]
        report_at = time.monotonic() + 60
        while time.monotonic() < deadline and (not self.args.inputs or self.tally.tried < self.args.inputs):
            ready = wait([w.conn for w in self.workers], timeout=1.0)
            now = time.monotonic()
            for slot, w in enumerate(self.workers):
                if w.conn in ready:
                    try:
                        message = w.conn.recv()
                    except EOFError:
                        self.lost(slot, "crash", f"worker process died (exit code {w.proc.exitcode})")
                        continue
                    self.done(*message)
                    w.last, w.since = message[0], now
                elif now - w.since > self.args.kill_after:
                    self.lost(slot, "hang", f"no answer after {self.args.kill_after:.0f} s (killed)")
            if now > report_at:
                report_at += 60
                print(f"[{time.strftime('%H:%M:%S')}] {self.tally.tried} inputs, "
                      f"{sum(self.tally.failures.values())} failing", flush=True)

    def done(self, index: int, problems: list[tuple[str, str, str, str]], seconds: float, verification: int,
             typed: tuple[str, ...]) -> None:
        tally = self.tally
        tally.tried += 1
        if seconds > tally.slowest:
            tally.slowest, tally.slowest_index = seconds, index
        tally.verification_errors += verification
        tally.typed.update(typed)
        for problem in problems:
            self.record(index, *problem)

    def summary(self, seconds: float) -> str:
        t = self.tally
        lines = [
            f"fuzz run --seed {self.args.seed}: {t.tried} inputs in {seconds / 60:.1f} min "
            f"({len(self.pool)} families, {sum(len(v) for v in self.pool.values())} seeds), "
            f"slowest input {t.slowest:.2f} s (number {t.slowest_index})",
            f"typed errors: {dict(t.typed.most_common())}; fail-closed verification refusals: {t.verification_errors}",
            f"distinct failures: {len(t.first)} ({sum(t.failures.values())} failing inputs)",
        ]
        lines += [f"  {t.failures[sig]:6d} x {text}" for sig, text in t.first.items()]
        return "\n".join(lines)


def _stop_on_signals() -> None:
    """Ctrl-C or `kill PID` ends the run with its summary (and the workers with it). Background jobs start
    with SIGINT ignored, so both handlers are installed here."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz.run", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="how long to run (default 30)")
    parser.add_argument("--inputs", type=int, default=0, help="stop after this many inputs (default: no limit)")
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100_000, help="run seed (default: clock)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    default_out = Path(tempfile.gettempdir()) / "anonymizer-fuzz"
    parser.add_argument("--out", default=str(default_out), help=f"folder for failing inputs (default {default_out})")
    parser.add_argument("--corpus", default=None, help="extra seed folder (default ../shared/corpus/metadata)")
    parser.add_argument("--corpus-max-bytes", type=int, default=seeds.CORPUS_MAX_BYTES)
    parser.add_argument("--kill-after", type=float, default=30.0, help="seconds without an answer = hang")
    args = parser.parse_args(argv)
    _stop_on_signals()
    run = Run(args)
    started = time.monotonic()
    try:
        with contextlib.suppress(KeyboardInterrupt):
            run.loop()
    finally:
        for w in run.workers:
            w.proc.kill()
    print(run.summary(time.monotonic() - started), flush=True)
    return 1 if run.tally.first else 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: activation collection positions/s, optionally side by side with another checkout.

    python -m bench.bench_collect [--positions 30000] [--rounds 3] [--record]
    python -m bench.bench_collect --compare-with /tmp/old_repo      # e.g. a worktree of d74b841

Each round runs this checkout's `python -m sae.collect` and (with `--compare-with`) the other
checkout's collector (`othello/collect_activations.py` before the architecture change, else
`python -m sae.collect`) in subprocesses on the same model, sizes and seed, alternating, and
reads the positions/s each one prints (collection only, start-up excluded). The median of the
rounds is reported; rounds alternate so that a shared machine slows both alike.
"""
import datetime
import re
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import tyro

import config
from bench.common import machine, record
from config import Config

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class BenchArgs:
    positions: int = 30_000     # unique positions per collection run
    rounds: int = 3             # alternating rounds (median reported)
    compare_with: str = ""      # another checkout of the repo to time side by side ('' = none)
    record: bool = False        # append the table to bench/RESULTS.md
    cfg: Annotated[Config, tyro.conf.arg(name="")] = Config()


def collector(repo, out, positions, seed):
    """The command line of `repo`'s collector (old layout or new)."""
    old = repo / "othello" / "collect_activations.py"
    if old.exists():
        return [sys.executable, str(old), "--positions", str(positions), "--out", str(out), "--seed", str(seed)]
    return [sys.executable, "-m", "sae.collect", "--collect.positions", str(positions), "--collect.out", str(out),
            "--seed", str(seed)]


def timed(repo, out, positions, seed):
    """positions/s printed by one collection run of `repo`."""
    r = subprocess.run(collector(repo, out, positions, seed), cwd=repo, capture_output=True, text=True,
                       env={**__import__("os").environ, "PYTHONPATH": str(repo)})
    m = re.search(r"\(([\d,]+) positions/s\)", r.stdout)
    if r.returncode or not m:
        sys.exit(f"error: collection in {repo} failed: {(r.stderr or r.stdout).strip().splitlines()[-1:]}")
    return float(m.group(1).replace(",", ""))


def main(argv=None):
    args = config.parse(BenchArgs, argv, __doc__)
    repos = {"this checkout": REPO}
    if args.compare_with:
        repos[args.compare_with] = Path(args.compare_with).resolve()
    rates = {k: [] for k in repos}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.rounds):
            for name, repo in (repos.items() if i % 2 == 0 else reversed(repos.items())):
                rates[name].append(timed(repo, Path(tmp) / f"acts{i}", args.positions, args.cfg.seed))
                print(f"round {i + 1} {name}: {rates[name][-1]:,.0f} positions/s", flush=True)
    base = statistics.median(rates["this checkout"])
    rows = ["| collector | positions/s per round | median | vs this checkout |", "|---|---|---|---|"]
    rows += [f"| {name} | {', '.join(f'{r:,.0f}' for r in rs)} | {statistics.median(rs):,.0f} | "
             f"{statistics.median(rs) / base:.2f}x |" for name, rs in rates.items()]
    text = (f"### Activation collection throughput ({datetime.date.today()})\n"
            f"Machine: {machine()}. Command: `python -m bench.bench_collect {' '.join(argv or sys.argv[1:])}`. "
            f"{args.positions:,} unique positions of the shipped model at resid.2, default mix, seed {args.cfg.seed}, "
            f"{args.rounds} alternating rounds.\n\n" + "\n".join(rows))
    print(text)
    if args.record:
        record(text)


if __name__ == "__main__":
    main()

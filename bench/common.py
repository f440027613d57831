"""Shared by the benchmarks: a one-line machine description and appending a table to RESULTS.md."""
import platform
import subprocess
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def cpu_name():
    """The CPU model from lscpu (falls back to platform.processor())."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(l.split(":", 1)[1].strip() for l in out.splitlines() if l.startswith("Model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def machine():
    """e.g. 'AMD EPYC 7B13, 2 torch threads, torch 2.13.0+cpu'."""
    return f"{cpu_name()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}"


def record(text):
    """Append a results section (markdown) to bench/RESULTS.md."""
    with open(RESULTS, "a") as f:
        f.write("\n" + text.rstrip("\n") + "\n")

"""Atomic file writes: every artifact of the toolkit is written through here.

A writer fills a temporary file beside the target and `os.replace`s it, so a reader (or a
run killed with kill -9) sees either the old file or the new one, never half of one.
"""
import json
import os
import shutil
from pathlib import Path


def atomic_write(path, write):
    """Call `write(tmp_path)` to fill a temp file beside `path`, then rename it over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def atomic_write_text(path, text):
    return atomic_write(path, lambda p: Path(p).write_text(text))


def atomic_write_json(path, obj):
    return atomic_write_text(path, json.dumps(obj, indent=1) + "\n")


def atomic_replace_dir(tmp_dir, out_dir):
    """Swap a fully written folder `tmp_dir` into place as `out_dir` (the old one is removed)."""
    tmp_dir, out_dir = Path(tmp_dir), Path(out_dir)
    old = out_dir.with_name(out_dir.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if out_dir.exists():
        os.replace(out_dir, old)
    os.replace(tmp_dir, out_dir)
    if old.exists():
        shutil.rmtree(old)
    return out_dir

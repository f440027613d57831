"""Activation store: memory-mapped .npy arrays plus a manifest, split by game. This module owns the format.

A store is a directory:

    manifest.json        {"format": "othello-activations/3", "config" (the run's config tree, verbatim),
                          "checkpoint", "checkpoint_sha256", "net_config", "sites", "count", "act_dtype",
                          "d_model", "splits": {"train": [0, n1], "val": [n1, n2], "test": [n2, N]},
                          "sources" (names indexed by source.npy), "n_games", "seed", "arrays", "created", ...}
    acts_<site>.npy      [N, d_model] float16 | float32   (e.g. acts_resid.2.npy)
    boards.npy int8 [N, 36]   mover.npy int8 [N]   ply.npy int16 [N]   legal.npy bool [N, 37]
    game_id.npy int32 [N]     source.npy int8 [N]   policy.npy float16 [N, 37]   value.npy float32 [N]
    move.npy int8 [N]         (the action played from the position in its game: square 0..35, 36 = pass)

Rows are ordered train | val | test and every game lies in one split, so held-out
metrics never see a position of a training game. Writers fill a temp directory and
swap it into place (othello.atomic.atomic_replace_dir), so a crash never leaves a
half-written store behind. `ActivationStore` is the one reader: it validates the
manifest, every array's shape and dtype, and refuses a store of another format version.
"""
import datetime
import json
import shutil
from pathlib import Path

import numpy as np
import torch

from othello.atomic import atomic_replace_dir, atomic_write_json

FORMAT = "othello-activations/3"  # /3 adds `move` (the move played), which /2 stores lack: they must be re-collected
SPLITS = ("train", "val", "test")
# name -> (dtype, shape after the row axis); activations are checked separately (width = d_model)
ARRAYS = {
    "boards": (np.int8, (36,)),
    "mover": (np.int8, ()),
    "ply": (np.int16, ()),
    "legal": (np.bool_, (37,)),
    "game_id": (np.int32, ()),
    "source": (np.int8, ()),
    "policy": (np.float16, (37,)),
    "value": (np.float32, ()),
    "move": (np.int8, ()),  # the action played from the position (first occurrence's game); 36 = pass
}
ACT_DTYPES = ("float16", "float32")
# manifest fields a writer must supply, with their JSON types (the writer adds format, sites, count, ...)
REQUIRED_FIELDS = {"config": dict, "checkpoint": str, "checkpoint_sha256": str, "net_config": dict, "splits": dict,
                   "sources": list, "n_games": int, "seed": int}


class ActivationStoreError(ValueError):
    """A store that is missing, corrupt, inconsistent, or not what the caller asked for."""


def act_file(site):
    return f"acts_{site}.npy"


def check_splits(splits, count):
    """Splits must be contiguous row ranges train | val | test covering [0, count)."""
    try:
        bounds = [[int(a), int(b)] for a, b in (splits[s] for s in SPLITS)]
    except (KeyError, TypeError, ValueError):
        raise ActivationStoreError(f"manifest 'splits' must map {list(SPLITS)} to [start, stop] row ranges, got {splits!r}") from None
    flat = [b for pair in bounds for b in pair]
    if flat[0] != 0 or flat[-1] != count or flat[1] != flat[2] or flat[3] != flat[4] or any(a > b for a, b in bounds):
        raise ActivationStoreError(f"manifest splits {dict(zip(SPLITS, bounds))} are not contiguous ranges train|val|test covering 0..{count}")
    return dict(zip(SPLITS, bounds))


def check_games_split(game_id, splits):
    """No game may have positions in two splits (that would leak training games into evaluation)."""
    seen = {}
    for s, (a, b) in splits.items():
        for other, ids in seen.items():
            both = np.intersect1d(ids, np.unique(game_id[a:b]))
            if len(both):
                raise ActivationStoreError(f"game {int(both[0])} has positions in both '{other}' and '{s}' splits; splits must be by game")
        seen[s] = np.unique(game_id[a:b])


class StoreWriter:
    """Write a store incrementally (N known up front): `write(row, arrays)` any number of times, then `close(fields)`.

    Arrays are memory-mapped .npy files in `<out>.tmp`; `close` validates that every array
    of the format was fully written, that splits are by game, writes the manifest, and swaps
    the directory into place (replacing an older store at `out`).
    """

    def __init__(self, out_dir, count, sites, d_model, act_dtype):
        if act_dtype not in ACT_DTYPES:
            raise ActivationStoreError(f"act_dtype must be one of {ACT_DTYPES}, got '{act_dtype}'")
        self.out = Path(out_dir)
        self.tmp = self.out.with_name(self.out.name + ".tmp")
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        self.tmp.mkdir(parents=True)
        self.count, self.sites, self.d_model, self.act_dtype = int(count), list(sites), int(d_model), act_dtype
        self.specs = dict(ARRAYS)
        for s in self.sites:
            self.specs[f"acts_{s}"] = (np.dtype(act_dtype), (self.d_model,))
        self.maps, self.rows_written = {}, {}

    def write(self, row, arrays):
        """Write `arrays` {name: [n, ...]} at rows row..row+n (activations are named 'acts_<site>')."""
        for name, value in arrays.items():
            value = np.asarray(value)
            if name not in self.specs:
                raise ActivationStoreError(f"'{name}' is not an array of the store format (arrays: {sorted(self.specs)})")
            dtype, tail = self.specs[name]
            if name not in self.maps:
                fname = act_file(name[5:]) if name.startswith("acts_") else f"{name}.npy"
                self.maps[name] = np.lib.format.open_memmap(self.tmp / fname, mode="w+", dtype=dtype,
                                                            shape=(self.count, *tail))
                self.rows_written[name] = 0
            if value.shape[1:] != tuple(tail) or row + len(value) > self.count:
                raise ActivationStoreError(f"'{name}' rows {row}..{row + len(value)} of shape {value.shape} do not fit "
                                           f"[{self.count}, {', '.join(map(str, tail))}]")
            self.maps[name][row:row + len(value)] = value.astype(dtype, copy=False)
            self.rows_written[name] += len(value)

    def close(self, manifest_fields):
        """Validate, write manifest.json, rename into place; returns the manifest dict."""
        missing = [k for k in self.specs if k not in self.maps]
        if missing:
            raise ActivationStoreError(f"store arrays never written: {missing}")
        short = {k: n for k, n in self.rows_written.items() if n != self.count}
        if short:
            raise ActivationStoreError(f"store arrays not fully written (rows written vs {self.count}): {short}")
        check_fields(manifest_fields, f"manifest of {self.out}")
        splits = check_splits(manifest_fields["splits"], self.count)
        for m in self.maps.values():
            m.flush()
        check_games_split(self.maps["game_id"], splits)
        n_sources = len(manifest_fields["sources"])
        if n_sources and int(self.maps["source"].max()) >= n_sources:
            raise ActivationStoreError(f"source index {int(self.maps['source'].max())} has no name in sources {manifest_fields['sources']}")
        manifest = {"format": FORMAT, **manifest_fields, "sites": self.sites, "count": self.count,
                    "act_dtype": self.act_dtype, "d_model": self.d_model, "splits": splits,
                    "arrays": sorted(self.maps)}
        manifest.setdefault("created", datetime.datetime.now().isoformat(timespec="seconds"))
        self.maps.clear()  # drop the memmaps before renaming (needed on some filesystems)
        atomic_write_json(self.tmp / "manifest.json", manifest)
        atomic_replace_dir(self.tmp, self.out)
        return manifest


def check_fields(fields, where):
    """The writer-supplied manifest fields must all be present with their JSON types."""
    for key, tp in REQUIRED_FIELDS.items():
        if key not in fields:
            raise ActivationStoreError(f"{where} lacks the field '{key}'")
        if not isinstance(fields[key], tp) or isinstance(fields[key], bool):
            raise ActivationStoreError(f"{where}: field '{key}' must be a JSON {tp.__name__}, got {fields[key]!r:.60}")


def write_store(out_dir, manifest_fields, arrays, act_dtype=None):
    """Write a whole store at once. `arrays`: {"acts_<site>": [N, d], "boards": ..., ...} (see module doc);
    activations are stored as `act_dtype` (default: their own dtype if float16/float32, else float32)."""
    acts = {k: np.asarray(v) for k, v in arrays.items() if k.startswith("acts_")}
    if not acts:
        raise ActivationStoreError("write_store needs at least one 'acts_<site>' array")
    first = next(iter(acts.values()))
    if first.ndim != 2:
        raise ActivationStoreError(f"activations must be [N, d_model], got shape {first.shape}")
    dtype = act_dtype or (str(first.dtype) if str(first.dtype) in ACT_DTYPES else "float32")
    writer = StoreWriter(out_dir, len(first), [k[5:] for k in acts], first.shape[1], dtype)
    for name, value in arrays.items():
        if len(value) != len(first):
            raise ActivationStoreError(f"'{name}' has {len(value)} rows, the activations have {len(first)}")
    writer.write(0, arrays)
    return writer.close(manifest_fields)


def pinned(device):
    """Whether batches go to `device` through pinned (page-locked) host memory: only for CUDA, where it
    lets the copy run asynchronously (non_blocking) while the GPU still works on earlier batches."""
    return torch.device(device).type == "cuda"


def to_device(tensor, device):
    """A host tensor on `device`: pinned + non_blocking for CUDA (pinned), a plain `.to` otherwise."""
    if pinned(device):
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


def _open_npy(f):
    """Memory-map one .npy file; a corrupt one raises ActivationStoreError naming it."""
    try:
        return np.load(f, mmap_mode="r")
    except (ValueError, OSError, EOFError) as e:
        raise ActivationStoreError(f"{f} is not a readable .npy file ({str(e).splitlines()[0][:100]})") from None


class ActivationStore:
    """Read a store: every array memory-mapped (`mmap_mode='r'`), manifest, shapes and dtypes validated on open."""

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.is_dir():
            raise ActivationStoreError(f"no activation store at {self.path} (directory missing); "
                                       f"collect one with: python -m sae.collect --collect.out {self.path}")
        mfile = self.path / "manifest.json"
        if not mfile.is_file():
            raise ActivationStoreError(f"{mfile} is missing: {self.path} is not an activation store (or its writer did not finish)")
        try:
            m = json.loads(mfile.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ActivationStoreError(f"{mfile} is not valid JSON ({e})") from None
        if not isinstance(m, dict) or m.get("format") != FORMAT:
            got = m.get("format") if isinstance(m, dict) else type(m).__name__
            raise ActivationStoreError(f"{mfile}: activation store format {got!r} is not '{FORMAT}' (written by "
                                       f"another version; collect it again with python -m sae.collect)")
        check_fields(m, str(mfile))
        for key, tp in (("sites", list), ("count", int), ("d_model", int), ("act_dtype", str)):
            if not isinstance(m.get(key), tp) or isinstance(m.get(key), bool):
                raise ActivationStoreError(f"{mfile}: field '{key}' is missing or not a JSON {tp.__name__}")
        if m["act_dtype"] not in ACT_DTYPES or not m["sites"]:
            raise ActivationStoreError(f"{mfile}: act_dtype {m['act_dtype']!r} / sites {m['sites']} are not valid")
        self.manifest = m
        self.count, self.d_model, self.sites = m["count"], m["d_model"], list(m["sites"])
        self.splits = check_splits(m["splits"], self.count)
        self.arrays = {name: self._load(f"{name}.npy", dtype, (self.count, *tail)) for name, (dtype, tail) in ARRAYS.items()}
        self._acts = {s: self._load(act_file(s), m["act_dtype"], (self.count, self.d_model)) for s in self.sites}

    def _load(self, fname, dtype, shape):
        f = self.path / fname
        if not f.is_file():
            raise ActivationStoreError(f"{f} is missing from the store")
        arr = _open_npy(f)
        if arr.shape != shape:
            raise ActivationStoreError(f"{f} has shape {arr.shape}, the manifest implies {shape}")
        if arr.dtype != np.dtype(dtype):
            raise ActivationStoreError(f"{f} has dtype {arr.dtype}, expected {np.dtype(dtype).name}")
        return arr

    def check(self, site, d_in=None):
        """Raise ActivationStoreError unless `site` is stored (with width `d_in`, if given)."""
        if site not in self._acts:
            raise ActivationStoreError(f"site '{site}' is not in the store {self.path}; it has {self.sites}")
        if d_in is not None and int(d_in) != self.d_model:
            raise ActivationStoreError(f"activation width mismatch: asked for d_in={d_in} but the store at {self.path} is {self.d_model} wide")

    def split_rows(self, split):
        """(start, stop) rows of a split."""
        if split not in self.splits:
            raise ActivationStoreError(f"unknown split '{split}'; splits are {list(SPLITS)}")
        return tuple(self.splits[split])

    def acts(self, site, split=None, d_in=None):
        """Activations `[rows, d_model]` of a split (all rows if split is None), as a read-only memmap."""
        self.check(site, d_in)
        a, b = self.split_rows(split) if split else (0, self.count)
        return self._acts[site][a:b]

    def array(self, name, split=None):
        """A per-position array (boards, mover, ply, legal, game_id, source, policy, value, move) of a split."""
        if name not in self.arrays:
            raise ActivationStoreError(f"array '{name}' is not part of the store format (arrays: {sorted(self.arrays)})")
        a, b = self.split_rows(split) if split else (0, self.count)
        return self.arrays[name][a:b]

    def stream_rows(self, split, start, count, seed=0):
        """Split-local row indices at positions [start, start + count) of the split's endless shuffled row
        stream: the concatenation of per-epoch permutations, epoch e drawn with seed (seed, e)."""
        a, b = self.split_rows(split)
        n, parts, p = b - a, [], start
        while p < start + count:  # a stretch may span several epochs of a small split
            epoch, off = divmod(p, n)
            parts.append(np.random.default_rng([seed, epoch]).permutation(n)[off:off + start + count - p])
            p += len(parts[-1])
        return np.concatenate(parts)

    def batches(self, site, split, batch_size, seed=0, start_step=0, block_batches=32, device="cpu"):
        """Endless float32 batches `[batch_size, d_model]` of shuffled rows of a split.

        The row stream is the concatenation of per-epoch permutations (epoch e uses
        seed (seed, e)), so batch t is a pure function of (seed, t): resuming at
        `start_step` continues the exact same stream. Rows are read `block_batches`
        batches at a time in sorted order (near-sequential reads of the memmap),
        converted to float32 once, then put back in permuted order. On CUDA a block is copied
        from pinned memory without blocking (`pinned`), so reading the next block overlaps the GPU's work.
        `site` a list of sites: each batch is a dict {site: batch} of the SAME rows at every site (the row
        stream does not depend on the sites, so each site's batches are its single-site batches).
        """
        sites = [site] if isinstance(site, str) else list(site)
        for s in sites:
            self.check(s)
        a, b = self.split_rows(split)
        n = b - a
        if n < batch_size:
            raise ActivationStoreError(f"split '{split}' has {n} rows, fewer than one batch of {batch_size}")
        pos = start_step * batch_size  # absolute position in the endless row stream
        block = block_batches * batch_size
        while True:
            take = self.stream_rows(split, pos, block, seed)
            order = np.argsort(take, kind="stable")
            unsort = to_device(torch.from_numpy(np.argsort(order)), device)
            rows = {}
            for s in sites:
                r = to_device(torch.from_numpy(np.ascontiguousarray(self._acts[s][a + take[order]])), device).float()
                rows[s] = r[unsort]  # undo the sort: permuted order
            for i in range(block_batches):
                cut = slice(i * batch_size, (i + 1) * batch_size)
                yield rows[site][cut] if isinstance(site, str) else {s: r[cut] for s, r in rows.items()}
            pos += block

    def info(self):
        """What a sweep report records about its store: {path, checkpoint_sha256, sites}."""
        return {"path": str(self.path), "checkpoint_sha256": self.manifest["checkpoint_sha256"], "sites": list(self.sites)}

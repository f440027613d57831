"""The viewer data artifact (`vis/data`): its format, its atomic write, and reading it back.

Layout of the folder (all read by vis/js/data.js, which checks FORMAT in every JSON file):

    index.json                  FORMAT, config, provenance, every SAE with its metrics, the scaling rows,
                                where each tensor of the weight files is (vis/weights.py)
    net/weights.bin             the network, for the page's board lab (vis/weights.py's layout)
    saes/<dir>/weights.bin      that SAE's encoder and decoder, likewise
    boards/<k>.bin              the shared board table, BOARDS_PER_CHUNK records per file
    report/                     the sweep's science report (sae/science_report.py), copied as written, when there is one
    saes/<dir>/features.json    FORMAT + per-feature summary arrays SUMMARY_ARRAYS (one compact file per SAE)
    saes/<dir>/shards/<k>.json  FORMAT + details of features k*S .. k*S+S-1, loaded on demand

The folder is written beside the target and swapped in as a whole (othello.atomic), so no
shard of an older generation outlives a regeneration and a killed run leaves the old data.

A board record is RECORD_BYTES bytes (numpy packbits, little bit order):
    0-4   mover's discs, 36 bits          5-9   opponent's discs, 36 bits
    10-14 legal actions, 37 bits          15    the network's move (argmax of policy over legal)
    16    ply                             17    1 if the mover is Black (first player) else 0
    18    network value * 127 (int8)      19    network probability of its move * 255
Examples refer to boards by their index in this table, so a board shown by many
features of many SAEs is stored once.
"""
import json
import math
import shutil
from pathlib import Path

import numpy as np

from othello.atomic import atomic_replace_dir, atomic_write, atomic_write_text

FORMAT = "othello-vis/5"  # bump with FORMAT in vis/js/data.js whenever the layout changes
RECORD_BYTES = 20
BOARDS_PER_CHUNK = 4096


class ViewerDataError(ValueError):
    """Viewer data that is missing, unreadable, or of another format (the message names the file)."""


# ------------------------------------------------------------------ boards
def pack_boards(boards, legal, mover, ply, policy, value):
    """Per-position arrays (boards [n, 36], legal [n, 37], policy [n, 37], ...) -> uint8 [n, RECORD_BYTES]."""
    n = len(boards)
    rec = np.zeros((n, RECORD_BYTES), np.uint8)
    rec[:, 0:5] = np.packbits(boards > 0, axis=1, bitorder="little")
    rec[:, 5:10] = np.packbits(boards < 0, axis=1, bitorder="little")
    rec[:, 10:15] = np.packbits(legal.astype(bool), axis=1, bitorder="little")
    p = np.where(legal, policy.astype(np.float32), -1.0)
    move = p.argmax(1)
    rec[:, 15] = move
    rec[:, 16] = np.clip(ply, 0, 255)
    rec[:, 17] = mover > 0
    rec[:, 18] = np.round(np.clip(value, -1, 1) * 127).astype(np.int8).view(np.uint8)
    rec[:, 19] = np.round(np.clip(p[np.arange(n), move], 0, 1) * 255).astype(np.uint8)
    return rec


def unpack_board(rec):
    """One record -> dict (the inverse of pack_boards; used by tests and for checking)."""
    bits = lambda a, n: np.unpackbits(a, bitorder="little")[:n].astype(bool)
    mine, theirs = bits(rec[0:5], 36), bits(rec[5:10], 36)
    return {"board": mine.astype(np.int8) - theirs.astype(np.int8), "legal": bits(rec[10:15], 37),
            "move": int(rec[15]), "ply": int(rec[16]), "mover": 1 if rec[17] else -1,
            "value": int(rec[18].astype(np.int8)) / 127, "prob": int(rec[19]) / 255}


# -------------------------------------------------------------- JSON values
def num(x, digits=4):
    """A float rounded to `digits` significant digits for small JSON; NaN/inf -> None."""
    if x is None:
        return None
    x = float(x)
    if not math.isfinite(x):
        return None
    return 0.0 if x == 0 else float(f"{x:.{digits}g}")


def nums(a, digits=4):
    return [num(v, digits) for v in np.asarray(a).ravel().tolist()]


def finite(obj):
    """NaN/inf -> None anywhere in plain data (browsers' JSON.parse rejects NaN; metrics may hold it)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


SUMMARY_ARRAYS = ("density", "max", "mean", "dead", "top_move", "count", "reach", "negligible", "one_hit",
                  "effect_lo", "effect_hi", "label", "label_kind", "label_precision", "label_recall", "label_f1",
                  "importance", "value_change", "map_x", "map_y")  # features.json's parallel arrays (vis/js/validate.js checks them)


def feature_summary(stats, effects, flags, effect_range, xy, labels=None):
    """The per-SAE features.json: parallel arrays, one entry per feature.

    `flags`: vis.magnitudes.feature_flags; `effect_range` [d, 2]: each feature's smallest and
    largest mean logit change (the per-feature range printed beside the shared-scale heatmap);
    `labels`: the SAE's per-feature auto-interp entries (sae.autointerp.explain + summarise, read
    through sae.concept_eval.read_concepts) or None: `label` is the feature's rule, `label_kind` its
    kind, `label_precision` / `label_recall` / `label_f1` its test scores, `importance` the mean policy
    KL and `value_change` the mean |value change| when it is ablated (null without one); `xy` [d, 2]:
    the feature map's coordinates in [0, 1] (vis.features.feature_map) as `map_x`, `map_y`.
    """
    entries = labels or [None] * len(stats["count"])
    d_logit = effects["logit"]
    squares = np.where(np.isnan(d_logit), -np.inf, d_logit)
    top_move = np.where(np.isfinite(squares).any(1), squares.argmax(1), -1)
    field = lambda key, digits: [num(e.get(key), digits) if e else None for e in entries]
    return {"n": int(len(stats["count"])), "density": nums(stats["density"], 3), "max": nums(stats["max"], 3),
            "mean": nums(stats["mean"], 3), "dead": (stats["count"] == 0).astype(int).tolist(),
            "top_move": top_move.tolist(), "count": stats["count"].astype(int).tolist(),
            "reach": nums(flags["reach"], 3), "negligible": flags["negligible"].tolist(),
            "one_hit": flags["one_hit"].tolist(), "effect_lo": nums(effect_range[:, 0], 3),
            "effect_hi": nums(effect_range[:, 1], 3),
            "label": [e["text"] if e else None for e in entries], "label_kind": [e["kind"] if e else None for e in entries],
            "label_precision": field("precision", 3), "label_recall": field("recall", 3), "label_f1": field("f1", 3),
            "importance": field("kl", 3), "value_change": field("value_change", 3),
            "map_x": np.round(xy[:, 0], 3).tolist(), "map_y": np.round(xy[:, 1], 3).tolist()}


def feature_detail(i, stats, effects, sim_ids, sim_cos, board_id):
    """One feature's entry in its shard. `board_id` maps split rows to board-table indices.

    `effects`: vis.features.policy_effects as a dict {logit, value, n, logit_se, value_se}.
    """
    ex = lambda rows, vals: [[int(b), num(v)] for b, v in zip(board_id[rows], vals)]
    effect = None
    if effects["n"][i]:
        effect = {"logit": nums(effects["logit"][i], 3), "logit_se": nums(effects["logit_se"][i], 2),
                  "value": num(effects["value"][i], 3), "value_se": num(effects["value_se"][i], 2),
                  "scale": num(stats["mean"][i]), "n": int(effects["n"][i])}
    detail = {
        "id": i,
        "count": int(stats["count"][i]),
        "hist": {"lo": num(stats["hist_lo"][i]), "hi": num(stats["hist_hi"][i]), "counts": stats["hist"][i].tolist()},
        "top": ex(stats["top_rows"][i], stats["top_vals"][i]),
        "bands": [{"q": b["q"], "lo": num(b["lo"]), "hi": num(b["hi"]), "ex": ex(b["rows"], b["vals"])}
                  for b in stats["bands"][i]],
        "effect": effect,
        "similar": [[int(j), num(c, 3)] for j, c in zip(sim_ids[i], sim_cos[i])],
    }
    return detail


# ------------------------------------------------------------------- write
class Writer:
    """Fill a temp folder beside `out`, then `commit()` swaps it in as a whole.

        with Writer(out) as w:
            w.boards(records); w.sae(dir, summary, details, shard_size); w.commit(index)
    Leaving the block without commit() (an exception) removes the temp folder; `out` is untouched.
    """

    def __init__(self, out):
        self.out = Path(out)
        self.tmp = self.out.with_name(f".{self.out.name}.tmp")

    def __enter__(self):
        if self.tmp.exists():
            shutil.rmtree(self.tmp)  # left by a killed run
        self.tmp.mkdir(parents=True)
        return self

    def __exit__(self, *exc):
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        return False

    def json(self, rel, obj):
        text = json.dumps(finite(obj), separators=(",", ":"), allow_nan=False)
        atomic_write_text(self.tmp / rel, text)

    def boards(self, records):
        """The board table (uint8 [n, RECORD_BYTES]) as chunk files; returns the index's `boards` entry."""
        n_chunks = max(1, math.ceil(len(records) / BOARDS_PER_CHUNK))
        for k in range(n_chunks):
            chunk = records[k * BOARDS_PER_CHUNK:(k + 1) * BOARDS_PER_CHUNK].tobytes()
            atomic_write(self.tmp / "boards" / f"{k}.bin", lambda p: Path(p).write_bytes(chunk))
        return {"count": int(len(records)), "chunks": n_chunks, "per_chunk": BOARDS_PER_CHUNK,
                "record_bytes": RECORD_BYTES}

    def binary(self, rel, data):
        """A binary file (the weights of vis/weights.py) at `rel`."""
        atomic_write(self.tmp / rel, lambda p: Path(p).write_bytes(data))

    def sae(self, folder, summary, details, shard_size):
        """features.json and the detail shards of one SAE under saes/<folder>; returns the number of shards."""
        self.json(f"saes/{folder}/features.json", {"format": FORMAT, **summary})
        n_shards = max(1, math.ceil(len(details) / shard_size))
        for k in range(n_shards):
            self.json(f"saes/{folder}/shards/{k}.json",
                      {"format": FORMAT, "first": k * shard_size, "features": details[k * shard_size:(k + 1) * shard_size]})
        return n_shards

    def commit(self, index):
        """Write index.json last, then swap the folder in; returns the output path."""
        self.json("index.json", {"format": FORMAT, **index})
        return atomic_replace_dir(self.tmp, self.out)


# -------------------------------------------------------------------- read
def read_index(out):
    """index.json of the viewer data at `out`, or None when there is none; another format is an error."""
    f = Path(out) / "index.json"
    if not f.is_file():
        return None
    try:
        index = json.loads(f.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ViewerDataError(f"{f} is not readable JSON ({type(e).__name__}: {e})") from None
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        got = index.get("format") if isinstance(index, dict) else type(index).__name__
        raise ViewerDataError(f"{f} has format {got!r}, this generator writes '{FORMAT}': regenerate it")
    for key in ("store", "saes", "net"):
        if key not in index:
            raise ViewerDataError(f"{f} lacks the field '{key}': regenerate it")
    return index


def safe_name(name):
    """An SAE name as a folder name under saes/."""
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)

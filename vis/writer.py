"""Write the viewer's data files: compact JSON, shared binary board tables, lazy shards.

Layout of the output folder (all read by vis/js/data.js):

    index.json                  every SAE with its metrics, the scaling rows, provenance
    boards/<k>.bin              the shared board table, BOARDS_PER_CHUNK records per file
    saes/<dir>/features.json    per-feature summary arrays (one compact file per SAE)
    saes/<dir>/shards/<k>.json  details of features k*S .. k*S+S-1, loaded on demand

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
import os
import shutil
from pathlib import Path

import numpy as np

RECORD_BYTES = 20
BOARDS_PER_CHUNK = 4096


def pack_boards(boards, legal, mover, ply, policy, value):
    """Per-position arrays -> uint8 [n, RECORD_BYTES] board records."""
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


def write_boards(out, records):
    """Write the table as chunk files; return the number of chunks."""
    (out / "boards").mkdir(parents=True, exist_ok=True)
    n_chunks = max(1, math.ceil(len(records) / BOARDS_PER_CHUNK))
    for k in range(n_chunks):
        (out / "boards" / f"{k}.bin").write_bytes(records[k * BOARDS_PER_CHUNK:(k + 1) * BOARDS_PER_CHUNK].tobytes())
    return n_chunks


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


def write_json(path, obj):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(finite(obj), separators=(",", ":"), allow_nan=False))


def finite(obj):
    """NaN/inf -> None anywhere in plain data (browsers' JSON.parse rejects NaN; metrics.json may hold it)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def feature_summary(stats, d_logit):
    """The per-SAE features.json: parallel arrays, one entry per feature."""
    squares = np.where(np.isnan(d_logit), -np.inf, d_logit)
    top_move = np.where(np.isfinite(squares).any(1), squares.argmax(1), -1)
    return {"n": int(len(stats["count"])), "density": nums(stats["density"], 3), "max": nums(stats["max"], 3),
            "mean": nums(stats["mean"], 3), "dead": (stats["count"] == 0).astype(int).tolist(),
            "top_move": top_move.tolist()}


def feature_detail(i, stats, d_logit, d_value, n_effect, sim_ids, sim_cos, board_id, concepts=None):
    """One feature's entry in its shard. `board_id` maps split rows to board-table indices."""
    ex = lambda rows, vals: [[int(b), num(v)] for b, v in zip(board_id[rows], vals)]
    effect = None
    if n_effect[i]:
        effect = {"logit": nums(d_logit[i], 3), "value": num(d_value[i], 3), "scale": num(stats["mean"][i]),
                  "n": int(n_effect[i])}
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
    if concepts is not None:
        detail["concepts"] = concepts
    return detail


def write_shards(folder, details, shard_size):
    """Split the per-feature details into shard files of `shard_size` features."""
    n_shards = max(1, math.ceil(len(details) / shard_size))
    for k in range(n_shards):
        write_json(folder / "shards" / f"{k}.json",
                   {"first": k * shard_size, "features": details[k * shard_size:(k + 1) * shard_size]})
    return n_shards


def swap_in(tmp, out):
    """Replace `out` by the freshly written `tmp` folder, so no old shard outlives a regeneration."""
    out, tmp = Path(out), Path(tmp)
    old = out.with_name(out.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if out.exists():
        os.replace(out, old)
    os.replace(tmp, out)
    if old.exists():
        shutil.rmtree(old)

"""Replay buffer of self-play positions with 8x symmetry augmentation at sampling time.

Each sampled position gets one of the 8 dihedral symmetries at random (board, ownership and
policy permuted by the same one; pass stays at 36), so over training every stored position is
seen in all 8 orientations without storing 8 copies.

On disk (`buffer.npz`, for --resume): `format` ("othello-replay/2"), `boards` int8 `[n, 36]`,
`policy` float32 `[n, 37]`, `z` int8 `[n]`, `ownership` int8 `[n, 36]`, `score` int8 `[n]`,
`head`, `capacity`; written atomically. Version 1 (no ownership, no score) is refused: its
rows cannot give the auxiliary targets.
"""
from typing import NamedTuple

import numpy as np

from othello.atomic import atomic_write
from othello.symmetry import BOARD_PERMS, PERMS

FORMAT = "othello-replay/2"
FIELDS = ("boards", "policy", "z", "ownership", "score")


class ReplayError(ValueError):
    """A replay-buffer file that is missing, corrupt or of another format."""


class Batch(NamedTuple):
    boards: np.ndarray     # int8 [b, 36] position from the mover's side (+1 mine, -1 theirs, 0 empty)
    policy: np.ndarray     # float32 [b, 37] search policy target
    z: np.ndarray          # int8 [b] final result from the mover's side: +1 / 0 / -1
    ownership: np.ndarray  # int8 [b, 36] each square at the end of the game, mover's side: +1 / 0 / -1
    score: np.ndarray      # int8 [b] final disc difference from the mover's side


class ReplayBuffer:
    def __init__(self, capacity):
        self.capacity = capacity
        self.boards = np.zeros((capacity, 36), np.int8)
        self.policy = np.zeros((capacity, 37), np.float32)
        self.z = np.zeros(capacity, np.int8)
        self.ownership = np.zeros((capacity, 36), np.int8)
        self.score = np.zeros(capacity, np.int8)
        self.size = 0   # filled rows
        self.head = 0   # next row to overwrite (ring buffer: oldest positions go first)

    def add(self, boards, policy, z, ownership, score):
        """Append positions (the fields of Batch, `[n, ...]`), overwriting the oldest when full."""
        cols = (boards, policy, z, ownership, score)
        if len({len(c) for c in cols}) != 1:
            raise ValueError(f"replay rows of different lengths: {[len(c) for c in cols]}")
        for i in range(0, len(boards), self.capacity):  # chunks no larger than the buffer
            chunk = [c[i:i + self.capacity] for c in cols]
            rows = (self.head + np.arange(len(chunk[0]))) % self.capacity
            for name, c in zip(FIELDS, chunk):
                getattr(self, name)[rows] = c
            self.head = int((self.head + len(rows)) % self.capacity)
            self.size = min(self.capacity, self.size + len(rows))

    def sample(self, batch, rng):
        """`batch` random positions, each in a random symmetry (a Batch)."""
        idx = rng.integers(self.size, size=batch)
        k = rng.integers(8, size=batch)
        r = np.arange(batch)[:, None]
        return Batch(self.boards[idx][r, BOARD_PERMS[k]], self.policy[idx][r, PERMS[k]], self.z[idx],
                     self.ownership[idx][r, BOARD_PERMS[k]], self.score[idx])

    def save(self, path):
        """Write the filled rows atomically (temp file + rename)."""
        n = self.size

        def write(tmp):
            with open(tmp, "wb") as f:  # a file object: np.savez would append '.npz' to a temp name
                np.savez(f, format=np.array(FORMAT), **{name: getattr(self, name)[:n] for name in FIELDS},
                         head=np.int64(self.head), capacity=np.int64(self.capacity))
        return atomic_write(path, write)

    @classmethod
    def load(cls, path, capacity):
        """Read a buffer written by `save` into a buffer of `capacity` rows (the newest rows kept if smaller)."""
        try:
            with np.load(path, allow_pickle=False) as d:
                fmt = str(d["format"]) if "format" in d.files else None
                if fmt != FORMAT:
                    raise ReplayError(f"{path} is not a replay buffer of format '{FORMAT}' (found {fmt!r})")
                cols = [d[name] for name in FIELDS]
                head, saved_capacity = int(d["head"]), int(d["capacity"])
        except (OSError, ValueError, KeyError) as e:
            if isinstance(e, ReplayError):
                raise
            raise ReplayError(f"{path} is not a readable replay buffer ({type(e).__name__}: {e})") from None
        buf, n = cls(capacity), len(cols[2])
        if saved_capacity == capacity:  # exactly as saved, so a resumed run samples as an uninterrupted one
            for name, c in zip(FIELDS, cols):
                getattr(buf, name)[:n] = c
            buf.size, buf.head = n, head
            return buf
        order = (head + np.arange(n)) % n if n else np.arange(0)  # oldest first (head = oldest when full)
        buf.add(*[c[order] for c in cols])
        return buf

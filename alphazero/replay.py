"""Replay buffer of self-play positions with 8x symmetry augmentation at sampling time.

Each sampled position gets one of the 8 dihedral symmetries at random (board and policy
permuted by the same one; pass stays at 36), so over training every stored position is
seen in all 8 orientations without storing 8 copies.

On disk (`buffer.npz`, for --resume): `format` ("othello-replay/1"), `boards` int8 `[n, 36]`,
`policy` float32 `[n, 37]`, `z` int8 `[n]`, `head`, `capacity`; written atomically.
"""
import numpy as np

from othello.atomic import atomic_write
from othello.symmetry import BOARD_PERMS, PERMS

FORMAT = "othello-replay/1"


class ReplayError(ValueError):
    """A replay-buffer file that is missing, corrupt or of another format."""


class ReplayBuffer:
    def __init__(self, capacity):
        self.capacity = capacity
        self.boards = np.zeros((capacity, 36), np.int8)
        self.policy = np.zeros((capacity, 37), np.float32)
        self.z = np.zeros(capacity, np.int8)
        self.size = 0   # filled rows
        self.head = 0   # next row to overwrite (ring buffer: oldest positions go first)

    def add(self, boards, policy, z):
        """Append positions `[n, 36]`, `[n, 37]`, `[n]`, overwriting the oldest when full."""
        for i in range(0, len(boards), self.capacity):  # chunks no larger than the buffer
            b, p, v = boards[i:i + self.capacity], policy[i:i + self.capacity], z[i:i + self.capacity]
            rows = (self.head + np.arange(len(b))) % self.capacity
            self.boards[rows], self.policy[rows], self.z[rows] = b, p, v
            self.head = int((self.head + len(b)) % self.capacity)
            self.size = min(self.capacity, self.size + len(b))

    def sample(self, batch, rng):
        """Random positions, each in a random symmetry: boards `[b,36]`, policy `[b,37]`, z `[b]`."""
        idx = rng.integers(self.size, size=batch)
        k = rng.integers(8, size=batch)
        r = np.arange(batch)[:, None]
        boards = self.boards[idx][r, BOARD_PERMS[k]]
        policy = self.policy[idx][r, PERMS[k]]
        return boards, policy, self.z[idx]

    def save(self, path):
        """Write the filled rows atomically (temp file + rename)."""
        n = self.size

        def write(tmp):
            with open(tmp, "wb") as f:  # a file object: np.savez would append '.npz' to a temp name
                np.savez(f, format=np.array(FORMAT), boards=self.boards[:n], policy=self.policy[:n], z=self.z[:n],
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
                boards, policy, z = d["boards"], d["policy"], d["z"]
                head, saved_capacity = int(d["head"]), int(d["capacity"])
        except (OSError, ValueError, KeyError) as e:
            if isinstance(e, ReplayError):
                raise
            raise ReplayError(f"{path} is not a readable replay buffer ({type(e).__name__}: {e})") from None
        buf, n = cls(capacity), len(z)
        if saved_capacity == capacity:  # exactly as saved, so a resumed run samples as an uninterrupted one
            buf.boards[:n], buf.policy[:n], buf.z[:n] = boards, policy, z
            buf.size, buf.head = n, head
            return buf
        order = (head + np.arange(n)) % n if n else np.arange(0)  # oldest first (head = oldest when full)
        buf.add(boards[order], policy[order], z[order])
        return buf

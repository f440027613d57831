"""Replay buffer of self-play positions with 8x symmetry augmentation at sampling time.

Each sampled position gets one of the 8 dihedral symmetries at random, so over
training every stored position is seen in all 8 orientations without storing 8 copies.
"""
import os
from pathlib import Path

import numpy as np

from othello.symmetry import BOARD_PERMS, PERMS


class ReplayBuffer:
    def __init__(self, capacity):
        self.capacity = capacity
        self.boards = np.zeros((capacity, 36), np.int8)
        self.policy = np.zeros((capacity, 37), np.float32)
        self.z = np.zeros(capacity, np.int8)
        self.size = 0   # filled rows
        self.head = 0   # next row to overwrite (ring buffer: oldest positions go first)

    def add(self, boards, policy, z):
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
        """Atomic write (temp file + rename), for --resume."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp.npz")
        n = self.size
        np.savez(tmp, boards=self.boards[:n], policy=self.policy[:n], z=self.z[:n],
                 head=np.int64(self.head), capacity=np.int64(self.capacity))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path, capacity):
        with np.load(path, allow_pickle=False) as d:
            buf = cls(capacity)
            n = min(len(d["z"]), capacity)
            buf.boards[:n], buf.policy[:n], buf.z[:n] = d["boards"][:n], d["policy"][:n], d["z"][:n]
            buf.size = n
            buf.head = int(d["head"]) % capacity if n == capacity else n
        return buf

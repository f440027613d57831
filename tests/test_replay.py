"""Replay buffer: symmetry augmentation keeps board and policy together; the ring; the file format."""
import numpy as np
import pytest

from alphazero.replay import ReplayBuffer, ReplayError
from othello.symmetry import BOARD_PERMS, PERMS


def filled(n=40, capacity=64, seed=0):
    rng = np.random.default_rng(seed)
    boards = rng.integers(-1, 2, (n, 36)).astype(np.int8)
    policy = rng.random((n, 37)).astype(np.float32)
    policy /= policy.sum(1, keepdims=True)
    z = rng.integers(-1, 2, n).astype(np.int8)
    ownership = rng.integers(-1, 2, (n, 36)).astype(np.int8)
    score = rng.integers(-36, 37, n).astype(np.int8)
    buf = ReplayBuffer(capacity)
    buf.add(boards, policy, z, ownership, score)
    return buf, boards, policy, z


def test_board_and_policy_get_the_same_symmetry():
    buf, boards, policy, z = filled()
    b, p, v = buf.sample(500, np.random.default_rng(1))[:3]
    used = set()
    for bi, pi, vi in zip(b, p, v):
        # the stored row and symmetry this sample came from: the policy (random floats) identifies both
        (row, k), = [(r, k) for r in range(len(policy)) for k in range(8) if np.array_equal(policy[r][PERMS[k]], pi)]
        assert np.array_equal(bi, boards[row][BOARD_PERMS[k]]) and vi == z[row]
        assert pi[36] == policy[row][36]  # pass is fixed by every symmetry
        used.add(k)
    assert used == set(range(8))


def test_ring_keeps_the_newest():
    buf, boards, policy, z = filled(n=100, capacity=64)
    assert buf.size == 64 and buf.head == 100 % 64
    kept = {bytes(r) for r in buf.boards}
    assert kept == {bytes(r) for r in boards[-64:]}


def test_save_load_round_trip_and_format(tmp_path):
    buf, *_ = filled(n=100, capacity=64)
    buf.save(tmp_path / "buffer.npz")
    assert [p.name for p in tmp_path.iterdir()] == ["buffer.npz"]  # atomic: no temp file left
    same = ReplayBuffer.load(tmp_path / "buffer.npz", 64)
    assert (same.size, same.head) == (buf.size, buf.head)
    assert np.array_equal(same.boards, buf.boards) and np.array_equal(same.policy, buf.policy)
    small = ReplayBuffer.load(tmp_path / "buffer.npz", 16)  # a smaller buffer keeps the newest rows
    newest = (buf.head - 1 - np.arange(16)) % 64
    assert {bytes(r) for r in small.boards} == {bytes(r) for r in buf.boards[newest]}
    np.savez(tmp_path / "other.npz", boards=buf.boards)
    with pytest.raises(ReplayError, match="other.npz is not a replay buffer of format"):
        ReplayBuffer.load(tmp_path / "other.npz", 64)
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(ReplayError, match="junk.npz is not a readable replay buffer"):
        ReplayBuffer.load(tmp_path / "junk.npz", 64)

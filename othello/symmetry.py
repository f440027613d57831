"""The 8 dihedral symmetries of the 6x6 board, for boards `[..., 36]` and policies `[..., 37]`.

`PERMS[k]` is an index array: `transformed = x[..., PERMS[k]]`. Pass (action 36)
is fixed by every symmetry. `INVERSE[k]` undoes `PERMS[k]`.
"""
import numpy as np

from othello.game import N, SQUARES


def _perms():
    r, c = np.divmod(np.arange(SQUARES), N)
    out = []
    for k in range(4):  # rotations by 90 degrees, each with and without a mirror
        rr, cc = r, c
        for _ in range(k):
            rr, cc = cc, N - 1 - rr
        for mirror in (False, True):
            c2 = N - 1 - cc if mirror else cc
            # src index: transformed[rr*N + c2] = x[r*N + c]  ->  gather form
            perm = np.empty(SQUARES, dtype=np.int64)
            perm[rr * N + c2] = np.arange(SQUARES)
            out.append(perm)
    return np.stack(out)


BOARD_PERMS = _perms()  # [8, 36]
PERMS = np.concatenate([BOARD_PERMS, np.full((8, 1), SQUARES)], axis=1)  # [8, 37]
INVERSE = np.argsort(PERMS, axis=1)  # [8, 37]


def transform_board(board, k):
    """Apply symmetry k to boards `[..., 36]`."""
    return board[..., BOARD_PERMS[k]]


def transform_policy(policy, k):
    """Apply symmetry k to policies `[..., 37]` (pass stays at 36)."""
    return policy[..., PERMS[k]]


def augment(boards, policies, values):
    """All 8 symmetric copies: `[B,36], [B,37], [B,...]` -> `[8B,36], [8B,37], [8B,...]`."""
    b = np.concatenate([transform_board(boards, k) for k in range(8)])
    p = np.concatenate([transform_policy(policies, k) for k in range(8)])
    v = np.concatenate([values] * 8)
    return b, p, v

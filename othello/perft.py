"""Perft: count leaf nodes of the game tree from the start position.

    python -m othello.perft 8      # prints "depth nodes" for depths 1..8

A forced pass counts as a ply; a finished game is a leaf (it is counted at the
depth where it ends and not expanded further). The count is breadth-first over
the whole frontier in batched numpy, so depth 8 (308,716 nodes) takes well
under a second.
"""
import argparse

import numpy as np

from othello import game


def perft(depth):
    """Return `[nodes at depth 1, ..., nodes at depth]`."""
    me, opp = game.initial(1)
    finished = 0  # games that ended at an earlier depth remain leaves
    counts = []
    for _ in range(depth):
        mask = game.legal_mask(me, opp)  # [B, 37]
        done = game.terminal(me, opp)
        finished += int(done.sum())
        mask[done] = False
        rows, actions = np.nonzero(mask)
        me, opp = game.step(me[rows], opp[rows], actions)
        counts.append(len(rows) + finished)
    return counts


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("depth", type=int, help="maximum depth in plies (prints every depth from 1)")
    args = ap.parse_args(argv)
    for d, n in enumerate(perft(args.depth), 1):
        print(d, n)


if __name__ == "__main__":
    main()

"""The strength benchmark end to end on a tiny network (numbers meaningless, plumbing checked)."""
import numpy as np

from bench import bench_strength
from othello import game, solver
from tests.conftest import tiny_checkpoint


def test_accuracy_measures_kept_optimal_and_regret():
    values = np.full((2, game.ACTIONS), solver.ILLEGAL, np.int64)
    values[0, [3, 5]] = [4, -2]   # 3 wins by 4, 5 loses by 2
    values[1, [7, 8]] = [0, 0]    # both draw
    kept, optimal, regret = bench_strength.accuracy(values, np.array([5, 8]))
    assert (kept, optimal, regret) == (0.5, 0.5, 3.0)


def test_runs_end_to_end(tmp_path, capsys):
    path = tiny_checkpoint(tmp_path / "tiny.pt")
    bench_strength.main(["--checkpoint", str(path), "--positions", "3", "--empties", "10", "--sims", "4",
                         "--games", "2", "--match-sims", "4", "--opponent", "greedy"])
    out = capsys.readouterr().out
    for row in ("| random play | 10 | raw policy |", "| model's games | 10 | MCTS 4 |", "| MCTS 4 | greedy | 2 |",
                "value head at the start"):
        assert row in out

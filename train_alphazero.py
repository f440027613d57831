"""Train an AlphaZero agent for 6x6 Othello from scratch.

    python train_alphazero.py                     # default run: ~15 minutes on 2 CPU cores
    python train_alphazero.py --train.resume      # continue an interrupted run
    python train_alphazero.py --train.iterations 2 --selfplay.games 8 --selfplay.sims 8   # smoke test
    python train_alphazero.py --config runs/alphazero/config.json   # repeat a run's settings
    python train_alphazero.py --config alphazero/presets/strength.json   # the long run (<= 2 h on 2 cores)
    python train_alphazero.py --config alphazero/presets/strength.json --train.resume   # ... after a kill
    python train_alphazero.py --search.algorithm puct --selfplay.sims 64   # the earlier recipe (PUCT, 64 sims)
    python train_alphazero.py --train.minutes 15                  # stop on a wall-clock budget (lr decays over it)
    python train_alphazero.py --selfplay.full-fraction 0.25 --selfplay.cheap-sims 16   # playout-cap randomisation
    python train_alphazero.py --net.aux-heads --selfplay.solver-empties 14   # ownership/score heads, exact endgame targets
    python train_alphazero.py --train.backend ray --train.ray-actors 2   # self-play on 2 Ray actors (requirements-ray.txt)
    python train_alphazero.py --train.backend ray --train.ray-address auto --train.ray-actors 32   # on a `ray start` cluster

Each iteration: self-play (batched Gumbel AlphaZero search, --selfplay.sims simulations per move, over all
games at once; `--search.algorithm puct` for AlphaZero's PUCT) -> replay buffer
(8x symmetry augmentation) -> training -> evaluation of the raw policy against the previous
iteration and --train.eval-opponents -> atomic checkpoint `OUT/latest.pt` (+ `OUT/iter_NNN.pt`),
replay buffer and `OUT/learning_curve.svg` (score vs the opponents over wall-clock minutes).
OUT/config.json and every checkpoint record the full config.
"""
import sys
from pathlib import Path

import config
from alphazero.training import train_agent


def main(argv=None):
    cfg = config.parse(config.Config, argv, __doc__)
    device = config.resolve_device(cfg.device)
    wandb = config.require_wandb() if cfg.wandb else None
    config.save_config(Path(cfg.train.out) / "config.json", cfg)
    try:
        return train_agent(cfg.net, cfg.search, cfg.selfplay, cfg.train, cfg.rules, seed=cfg.seed, device=device,
                           config=config.to_dict(cfg), wandb=wandb)
    except ValueError as e:  # TrainingError, CheckpointError, ReplayError, a bad player spec: one line each
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    main()

"""Train an AlphaZero agent for 6x6 Othello from scratch.

    python train_alphazero.py                     # default run: ~15 minutes on 2 CPU cores
    python train_alphazero.py --resume            # continue an interrupted run
    python train_alphazero.py --iterations 2 --games-per-iter 8 --sims 8   # smoke test

Each iteration: self-play (batched MCTS over all games at once) -> replay buffer
(8x symmetry augmentation) -> training -> evaluation against the previous
iteration and a small ladder (random, greedy, alpha-beta) with the raw policy ->
atomic checkpoint `OUT/latest.pt` (+ `OUT/iter_NNN.pt`) and replay buffer.
"""
import argparse
import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from alphazero.arena import play_match
from alphazero.agents import PolicyPlayer
from alphazero.checkpoint import load_checkpoint, network_from_checkpoint, save_checkpoint
from alphazero.cli import add_dataclass_args, dataclass_from_args
from alphazero.inference import NetEvaluator
from alphazero.mcts import SearchConfig
from alphazero.network import AlphaZeroNet, NetConfig
from alphazero.replay import ReplayBuffer
from alphazero.selfplay import SelfPlayConfig, self_play
from othello.players import AlphaBetaPlayer, GreedyPlayer, RandomPlayer


@dataclass
class TrainConfig:
    out: str = "runs/alphazero"   # run directory (checkpoints, replay buffer)
    iterations: int = 30          # self-play / train / evaluate iterations
    games_per_iter: int = 256     # self-play games per iteration
    parallel: int = 256           # games played in lockstep (network batch in search)
    sims: int = 48                # MCTS simulations per move in self-play
    c_puct: float = 1.5           # PUCT exploration constant
    dirichlet_alpha: float = 0.5  # root Dirichlet noise concentration
    noise_fraction: float = 0.25  # weight of the root noise in the prior
    temperature_plies: int = 8    # plies sampled in proportion to visits before playing greedily
    buffer_size: int = 120_000    # replay buffer capacity in positions (before augmentation)
    batch_size: int = 512         # training batch size
    steps_per_iter: int = 120     # gradient steps per iteration
    lr: float = 2e-3              # peak AdamW learning rate (cosine decay to 10% over the run)
    weight_decay: float = 1e-4    # AdamW weight decay
    d_model: int = 256            # residual stream width
    n_blocks: int = 4             # residual blocks
    d_hidden: int = 1024          # MLP hidden width per block
    eval_games: int = 64          # games per evaluation match (raw policy, varied openings); 0 = off
    eval_depth: int = 2           # alpha-beta depth of the ladder opponent in per-iteration evaluation
    seed: int = 0                 # random seed (each iteration reseeds from seed and iteration)
    device: str = "cpu"           # torch device: cpu or cuda
    wandb: bool = False           # log to Weights & Biases (imported only when on)
    resume: bool = False          # continue from OUT/latest.pt and OUT/buffer.npz


def losses(net, boards, policy, z, device):
    """Policy cross-entropy to the visit distribution + value cross-entropy to W/D/L."""
    logits, v_logits = net(torch.from_numpy(boards).float().to(device))
    target_pi = torch.from_numpy(policy).to(device)
    policy_loss = -(target_pi * F.log_softmax(logits, -1)).sum(-1).mean()
    wdl = torch.from_numpy(1 - z.astype(np.int64)).to(device)  # +1 -> 0 win, 0 -> 1 draw, -1 -> 2 loss
    value_loss = F.cross_entropy(v_logits, wdl)
    return policy_loss, value_loss


def evaluate(net, prev_net, cfg, it):
    """Raw-policy matches: vs the previous iteration and a small ladder. Returns {name: score}."""
    if cfg.eval_games <= 0:
        return {}
    me = PolicyPlayer(net, cfg.device, seed=it)
    opponents = {"random": RandomPlayer(seed=it), "greedy": GreedyPlayer(seed=it),
                 f"alphabeta{cfg.eval_depth}": AlphaBetaPlayer(depth=cfg.eval_depth, seed=it)}
    if prev_net is not None:
        opponents["previous"] = PolicyPlayer(prev_net, cfg.device, seed=it + 1)
    return {name: play_match(me, opp, cfg.eval_games, seed=it, progress=False).score
            for name, opp in opponents.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cfg = dataclass_from_args(TrainConfig, add_dataclass_args(ap, TrainConfig).parse_args(argv))
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)

    # --- model, optimizer, buffer: fresh or resumed ---
    net = AlphaZeroNet(NetConfig(cfg.d_model, cfg.n_blocks, cfg.d_hidden)).to(cfg.device)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    buffer, start, history, elapsed = ReplayBuffer(cfg.buffer_size), 0, [], 0.0
    if cfg.resume and (out / "latest.pt").exists():
        ck = load_checkpoint(out / "latest.pt")
        net = network_from_checkpoint(ck, cfg.device)
        opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        opt.load_state_dict(ck["optimizer"])
        start, history, elapsed = ck["iteration"] + 1, ck["history"], ck["elapsed_s"]
        if (out / "buffer.npz").exists():
            buffer = ReplayBuffer.load(out / "buffer.npz", cfg.buffer_size)
        print(f"resuming at iteration {start} ({buffer.size} positions in the buffer)")
    prev_net = None
    if start > 0:
        prev_net = network_from_checkpoint(load_checkpoint(out / "latest.pt"), cfg.device)
    if cfg.wandb:
        import wandb
        wandb.init(project="othello-alphazero", config=dataclasses.asdict(cfg), resume="allow")
    search_cfg = SearchConfig(cfg.sims, cfg.c_puct, cfg.dirichlet_alpha, cfg.noise_fraction)
    play_cfg = SelfPlayConfig(cfg.games_per_iter, cfg.parallel, cfg.temperature_plies)

    bar = tqdm(range(start, cfg.iterations), desc="iterations", initial=start, total=cfg.iterations, disable=None)
    for it in bar:
        t0 = time.perf_counter()
        rng = np.random.default_rng([cfg.seed, it])
        # --- self-play with the current network ---
        data = self_play(NetEvaluator(net, cfg.device), play_cfg, search_cfg, rng)
        buffer.add(data["boards"], data["policy"], data["z"])
        t_play = time.perf_counter() - t0
        # --- training on the replay buffer ---
        lr = cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * it / max(cfg.iterations - 1, 1))))
        for g in opt.param_groups:
            g["lr"] = lr
        net.train()
        p_sum = v_sum = 0.0
        for _ in range(cfg.steps_per_iter):
            p_loss, v_loss = losses(net, *buffer.sample(cfg.batch_size, rng), cfg.device)
            loss = p_loss + v_loss
            if not torch.isfinite(loss):
                raise SystemExit(f"error: non-finite loss at iteration {it} (policy {p_loss.item()}, value {v_loss.item()}); "
                                 f"lower --lr or resume from {out / 'latest.pt'}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            p_sum, v_sum = p_sum + p_loss.item(), v_sum + v_loss.item()
        net.eval()
        t_train = time.perf_counter() - t0 - t_play
        # --- evaluation: previous iteration and the ladder ---
        scores = evaluate(net, prev_net, cfg, it)
        elapsed += time.perf_counter() - t0
        rec = {"iteration": it, "elapsed_s": round(elapsed, 1), "selfplay_s": round(t_play, 1),
               "train_s": round(t_train, 1), "games": int(len(data["lengths"])), "positions": int(len(data["z"])),
               "buffer": buffer.size, "policy_loss": p_sum / cfg.steps_per_iter, "value_loss": v_sum / cfg.steps_per_iter,
               "first_player_score": float((data["first_player_results"] + 1).mean() / 2), "lr": lr,
               **{f"score_vs_{k}": v for k, v in scores.items()}}
        history.append(rec)
        bar.set_postfix({k.replace("score_vs_", "vs_"): round(v, 2) for k, v in rec.items()
                         if k.startswith("score_vs") or k.endswith("loss")})
        tqdm.write(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in rec.items()))
        if cfg.wandb:
            wandb.log(rec, step=it)
        # --- checkpoint (atomic) ---
        save_checkpoint(out / "latest.pt", net, iteration=it, history=history, elapsed_s=elapsed,
                        train_config=dataclasses.asdict(cfg), optimizer=opt.state_dict())
        save_checkpoint(out / f"iter_{it:03d}.pt", net, iteration=it, history=history, elapsed_s=elapsed,
                        train_config=dataclasses.asdict(cfg))
        buffer.save(out / "buffer.npz")
        prev_net = network_from_checkpoint(load_checkpoint(out / "latest.pt"), cfg.device)
    print(f"done: {len(history)} iterations, {elapsed / 60:.1f} min; checkpoint {out / 'latest.pt'}")


if __name__ == "__main__":
    main()

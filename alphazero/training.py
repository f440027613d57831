"""The AlphaZero training stage: config sections in, the path of the final checkpoint out.

Each iteration: self-play with the current network (batched MCTS over all games at once)
-> replay buffer (8x symmetry augmentation at sampling time) -> gradient steps (policy, value,
and with `net.aux_heads` final ownership and disc difference) -> raw-policy evaluation against
the previous iteration and `train.eval_opponents` -> atomic checkpoint `OUT/latest.pt` (with the
optimizer) and `OUT/iter_NNN.pt`, then the replay buffer and `OUT/learning_curve.svg` (score vs
each opponent over wall-clock minutes; the same numbers go to wandb when enabled).
Every checkpoint records the run's full config tree under "config". A run killed at any
point (even kill -9) resumes with `train.resume` and loses at most the iteration in flight.
"""
import copy
import math
import re
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from alphazero import mcts, ray_backend, selfplay
from alphazero.agents import PolicyPlayer, make_player
from alphazero.checkpoint import load_checkpoint, network_from_checkpoint, resume_state, save_checkpoint
from alphazero.inference import NetEvaluator
from alphazero.network import AlphaZeroNet
from alphazero.replay import ReplayBuffer
from othello.arena import play_match
from othello.atomic import atomic_write_text
from othello.svgplot import line_plot

CURVE = "learning_curve.svg"  # beside the checkpoints


class TrainingError(ValueError):
    """A training run that cannot go on (bad setting, diverged loss)."""


def losses(net, batch, train_cfg, device):
    """Cross-entropy of the policy to the search target and of the value to W/D/L; with aux heads,
    also the final ownership (cross-entropy per square, mean over squares) and the final disc
    difference (squared error in units of 36 discs).

    batch: a replay Batch (boards int8 `[b, 36]`, policy `[b, 37]`, z, ownership `[b, 36]`, score `[b]`).
    Returns {name: loss} with "policy", "value" (+ "ownership", "score") and "total" (weighted sum).
    """
    boards = torch.from_numpy(batch.boards).float().to(device)
    if net.cfg.aux_heads:
        logits, v_logits, own_logits, score = net.forward_aux(boards)
    else:
        logits, v_logits = net(boards)
    target_pi = torch.from_numpy(batch.policy).to(device)
    out = {"policy": -(target_pi * F.log_softmax(logits, -1)).sum(-1).mean()}
    wdl = torch.from_numpy(1 - batch.z.astype(np.int64)).to(device)  # +1 -> 0 win, 0 -> 1 draw, -1 -> 2 loss
    out["value"] = F.cross_entropy(v_logits, wdl)
    total = out["policy"] + out["value"]
    if net.cfg.aux_heads:
        own = torch.from_numpy(1 - batch.ownership.astype(np.int64)).to(device)  # mine 0, empty 1, theirs 2
        out["ownership"] = F.cross_entropy(own_logits.reshape(-1, 3), own.reshape(-1))
        target = torch.from_numpy(batch.score.astype(np.float32)).to(device)
        out["score"] = (((score - target) / 36.0) ** 2).mean()
        total = total + train_cfg.ownership_weight * out["ownership"] + train_cfg.score_weight * out["score"]
    out["total"] = total
    return out


def opponent_specs(text):
    """'random,greedy,alphabeta:2' -> {'random': 'random', ..., 'alphabeta2': 'alphabeta:2'} (history key -> spec)."""
    specs = [s.strip() for s in text.split(",") if s.strip()]
    return {re.sub(r"\W+", "_", s.replace(":", "")).strip("_"): s for s in specs}


def evaluate(net, prev_net, specs, train_cfg, rules_cfg, search_cfg, device, it):
    """Raw-policy matches against the previous iteration and each opponent spec. Returns {key: score}."""
    if train_cfg.eval_games <= 0:
        return {}
    me = PolicyPlayer(net, device, seed=it)
    opponents = {key: make_player(spec, device, seed=it, search=search_cfg) for key, spec in specs.items()}
    if prev_net is not None:
        opponents["previous"] = PolicyPlayer(prev_net, device, seed=it + 1)
    return {key: play_match(me, opp, train_cfg.eval_games, opening_plies=rules_cfg.opening_plies, seed=it,
                            progress=False).score
            for key, opp in opponents.items()}


def write_learning_curve(path, history, specs):
    """SVG of the raw policy's score against each fixed opponent (not 'previous') over wall-clock minutes."""
    series = [(spec, [h["elapsed_s"] / 60 for h in history], [h.get(f"score_vs_{key}") for h in history])
              for key, spec in specs.items()]
    svg = line_plot(series, "raw policy score during training", "wall-clock minutes (self-play, training, evaluation)",
                    "score (win 1, draw 0.5)")
    return atomic_write_text(path, svg)


def _lr(train_cfg, it, elapsed):
    """Cosine decay from `lr` to 10% of it over the run: over the iterations, or over the
    wall-clock budget (`minutes`, by `elapsed` seconds) when there is one."""
    if train_cfg.minutes > 0:
        frac = min(elapsed / (60 * train_cfg.minutes), 1.0)
    else:
        frac = it / max(train_cfg.iterations - 1, 1)
    return train_cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))


def train_agent(net_cfg, search_cfg, selfplay_cfg, train_cfg, rules_cfg, *, seed, device, config, wandb=None):
    """Train (or resume, with `train_cfg.resume`) an agent in `train_cfg.out`; return the path of latest.pt.

    net_cfg, search_cfg, selfplay_cfg, train_cfg, rules_cfg: the config sections.
    seed, device: of the run. config: the full plain config dict (config.to_dict), recorded in
    every checkpoint. wandb: the imported wandb module to log to, or None.
    Raises TrainingError / CheckpointError / ReplayError naming the problem.
    """
    mcts.check_config(search_cfg)  # bad settings fail now, not after the first iteration's games
    selfplay.check_config(selfplay_cfg)
    ray_backend.check_config(train_cfg)  # a bad backend, or ray missing, fails now (ray itself is imported lazily)
    out = Path(train_cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    specs = opponent_specs(train_cfg.eval_opponents)
    for spec in specs.values():  # a bad spec fails now, not after the first iteration
        make_player(spec, device, search=search_cfg)
    torch.manual_seed(seed)

    # --- model, optimizer, buffer: fresh or resumed ---
    net = AlphaZeroNet(net_cfg).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=train_cfg.lr, weight_decay=train_cfg.weight_decay)
    buffer, start, history, elapsed = ReplayBuffer(train_cfg.buffer_size), 0, [], 0.0
    latest = out / "latest.pt"
    if train_cfg.resume and latest.exists():
        ck = load_checkpoint(latest)
        net = network_from_checkpoint(ck, device, source=latest)  # a checkpoint keeps its own shape
        opt = torch.optim.AdamW(net.parameters(), lr=train_cfg.lr, weight_decay=train_cfg.weight_decay)
        opt_state, start, history, elapsed = resume_state(ck, source=latest)
        opt.load_state_dict(opt_state)
        if (out / "buffer.npz").exists():
            buffer = ReplayBuffer.load(out / "buffer.npz", train_cfg.buffer_size)
        print(f"resuming at iteration {start} ({buffer.size} positions in the buffer)")
    prev_net = copy.deepcopy(net).eval() if start > 0 else None
    if wandb is not None:
        wandb.init(project="othello-alphazero", config=config, resume="allow")

    # self-play engine: this process (local), or Ray actors playing with the weights sent each iteration
    pool = (ray_backend.RaySelfPlay(net.cfg, selfplay_cfg, search_cfg, train_cfg, seed)
            if train_cfg.backend == "ray" else None)
    bar = tqdm(range(start, train_cfg.iterations), desc="iterations", initial=start, total=train_cfg.iterations,
               disable=None)
    try:
        for it in bar:
            if train_cfg.minutes > 0 and elapsed >= 60 * train_cfg.minutes:
                break  # the time budget is spent (a resumed run stops here too)
            t0, c0 = time.perf_counter(), time.process_time()
            rng = np.random.default_rng([seed, it])
            # --- self-play with the current network ---
            net.eval()
            if pool is None:
                data = selfplay.self_play(NetEvaluator(net, device), selfplay_cfg, search_cfg, rng)
            else:  # the actors' blocks in actor order; rng continues from actor 0's, as local's from its self-play
                data = pool.self_play(net, it, rng)
            buffer.add(data["boards"], data["policy"], data["z"], data["ownership"], data["score"])
            t_play = time.perf_counter() - t0
            # --- training on the replay buffer ---
            lr = _lr(train_cfg, it, elapsed)
            for g in opt.param_groups:
                g["lr"] = lr
            net.train()
            sums = {}
            for _ in range(train_cfg.steps_per_iter):
                parts = losses(net, buffer.sample(train_cfg.batch_size, rng), train_cfg, device)
                if not torch.isfinite(parts["total"]):
                    raise TrainingError(f"non-finite loss at iteration {it} ("
                                        + ", ".join(f"{k} {v.item()}" for k, v in parts.items())
                                        + f"); lower --train.lr or resume from {latest}")
                opt.zero_grad(set_to_none=True)
                parts["total"].backward()
                opt.step()
                for k, v in parts.items():
                    sums[k] = sums.get(k, 0.0) + v.item()
            net.eval()
            t_train = time.perf_counter() - t0 - t_play
            # --- evaluation: previous iteration and the opponents ---
            last = it == train_cfg.iterations - 1 or (train_cfg.minutes > 0 and
                                                      elapsed + time.perf_counter() - t0 >= 60 * train_cfg.minutes)
            due = (it + 1) % max(train_cfg.eval_every, 1) == 0 or last
            scores = evaluate(net, prev_net, specs, train_cfg, rules_cfg, search_cfg, device, it) if due else {}
            elapsed += time.perf_counter() - t0
            cpu = (history[-1].get("cpu_s", 0.0) if history else 0.0) + time.process_time() - c0
            steps = max(train_cfg.steps_per_iter, 1)
            rec = {"iteration": it, "elapsed_s": round(elapsed, 1), "cpu_s": round(cpu, 1),
                   "selfplay_s": round(t_play, 1), "train_s": round(t_train, 1), "games": int(len(data["lengths"])),
                   "positions": int(len(data["z"])),
                   "full_searches": int(data["searches"][0]), "cheap_searches": int(data["searches"][1]),
                   "solved": int(data["solved"].sum()), "buffer": buffer.size,
                   **{f"{k}_loss": v / steps for k, v in sums.items() if k != "total"},
                   "first_player_score": float((data["first_player_results"] + 1).mean() / 2), "lr": lr,
                   **{f"score_vs_{k}": v for k, v in scores.items()}}
            history.append(rec)
            bar.set_postfix({k.replace("score_vs_", "vs_"): round(v, 2) for k, v in rec.items()
                             if k.startswith("score_vs") or k.endswith("loss")})
            tqdm.write(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in rec.items()))
            if wandb is not None:
                wandb.log(rec, step=it)
            # --- checkpoints and buffer, each written atomically ---
            fields = {"iteration": it, "history": history, "elapsed_s": elapsed, "config": config}
            save_checkpoint(latest, net, optimizer=opt.state_dict(), **fields)
            save_checkpoint(out / f"iter_{it:03d}.pt", net, **fields)
            buffer.save(out / "buffer.npz")
            write_learning_curve(out / CURVE, history, specs)
            prev_net = copy.deepcopy(net).eval()
    finally:
        if pool is not None:
            pool.close()
    print(f"done: {len(history)} iterations, {elapsed / 60:.1f} min; checkpoint {latest}")
    return latest

"""Collect residual-stream activations of the AlphaZero network on diverse positions.

    python othello/collect_activations.py                      # 200k positions, layer 2, shipped model
    python othello/collect_activations.py --positions 3000000 --layer all --out runs/acts_big

Positions come from games of the model itself (raw policy sampled with
temperature) and from games of the model against random, greedy and alpha-beta
opponents, for diversity. Positions are de-duplicated (first occurrence kept),
split into train / val / test BY GAME, and written as an activation store
(sae/activations.py: memory-mapped .npy arrays + manifest.json). For each position
we keep the activations at every requested site, the board from the mover's
side, side to move, ply, legal mask, game id, source and the network's policy and
value — all from one forward pass of one checkpoint, whose sha256 the manifest records.
"""
import argparse
import datetime
import time

import numpy as np
import torch
from tqdm import tqdm

from alphazero.checkpoint import SHIPPED, CheckpointError, file_sha256, load_checkpoint, network_from_checkpoint
from alphazero.agents import PolicyPlayer
from alphazero.inference import boards_tensor
from alphazero.network import value_from_logits
from othello import game
from othello.players import AlphaBetaPlayer, GreedyPlayer, RandomPlayer
from sae.activations import StoreWriter

SOURCES = ["self", "random", "greedy", "alphabeta"]


def play_games(model, n_games, opponent, args, first_game_id):
    """Play `n_games` of the model's sampled policy (vs `opponent`, if any) in lockstep.

    Returns per-position arrays (me, opp, ply, game_id) of every position before a move."""
    me, opp = game.initial(n_games)
    model_first = np.arange(n_games) % 2 == 0  # vs an opponent: the model plays each colour half the time
    out = {"me": [], "opp": [], "ply": [], "game_id": []}
    gid = first_game_id + np.arange(n_games)
    for ply in range(80):  # 6x6 games end well before 80 plies, passes included
        live = ~game.terminal(me, opp)
        if not live.any():
            break
        idx = np.flatnonzero(live)
        out["me"].append(me[idx]); out["opp"].append(opp[idx])
        out["ply"].append(np.full(len(idx), ply)); out["game_id"].append(gid[idx])
        model.temperature = args.temperature if ply < args.temperature_plies else args.late_temperature
        actions = model(me[idx], opp[idx])
        if opponent is not None:
            opp_turn = (ply % 2 == 0) != model_first[idx]
            if opp_turn.any():
                actions[opp_turn] = opponent(me[idx][opp_turn], opp[idx][opp_turn])
        me[idx], opp[idx] = game.step(me[idx], opp[idx], actions)
    return {k: np.concatenate(v) for k, v in out.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=str(SHIPPED), help="network checkpoint (default: the shipped model)")
    ap.add_argument("--layer", default="2", help="residual stream site(s): a block index (2 = 'resid.2'), 'embed', "
                                                 "a comma-separated list, or 'all' (default: %(default)s)")
    ap.add_argument("--positions", type=int, default=200_000, help="unique positions to collect (default: %(default)s)")
    ap.add_argument("--out", default="runs/acts", help="output directory (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    ap.add_argument("--dtype", choices=["float16", "float32"], default="float16", help="activation dtype (default: %(default)s)")
    ap.add_argument("--mix", default="self=0.7,random=0.1,greedy=0.12,alphabeta=0.08",
                    help="share of games per source (default: %(default)s)")
    ap.add_argument("--alphabeta-depth", type=int, default=2, help="search depth of the alpha-beta opponent (default: %(default)s)")
    ap.add_argument("--temperature", type=float, default=1.0, help="policy temperature for the first plies (default: %(default)s)")
    ap.add_argument("--temperature-plies", type=int, default=10, help="plies played at --temperature (default: %(default)s)")
    ap.add_argument("--late-temperature", type=float, default=0.3, help="policy temperature after that (default: %(default)s)")
    ap.add_argument("--val-frac", type=float, default=0.05, help="fraction of games in the validation split (default: %(default)s)")
    ap.add_argument("--test-frac", type=float, default=0.05, help="fraction of games in the test split (default: %(default)s)")
    ap.add_argument("--batch-games", type=int, default=1024, help="games played in lockstep (default: %(default)s)")
    ap.add_argument("--device", default="cpu", help="torch device (default: %(default)s)")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    torch.manual_seed(args.seed)

    # --- network and sites ---
    try:
        ck = load_checkpoint(args.checkpoint)
    except CheckpointError as e:
        raise SystemExit(f"error: {e}") from None
    net = network_from_checkpoint(ck, args.device)
    sites = parse_sites(args.layer, net.sites)
    mix = parse_mix(args.mix)
    model = PolicyPlayer(net, args.device, temperature=args.temperature, seed=args.seed)  # Gumbel-max sampling
    opponents = {"self": None, "random": RandomPlayer(seed=args.seed), "greedy": GreedyPlayer(seed=args.seed),
                 "alphabeta": AlphaBetaPlayer(depth=args.alphabeta_depth, seed=args.seed)}

    # --- play games until there are enough unique positions ---
    chunks, seen, n_unique, n_games = [], set(), 0, 0
    bar = tqdm(total=args.positions, desc="positions", unit="pos", disable=None)
    while n_unique < args.positions:
        for source, share in mix.items():
            n = max(2, int(round(args.batch_games * share)))
            pos = play_games(model, n, opponents[source], args, n_games)
            n_games += n
            keys = (pos["me"].astype(object) << 36) | pos["opp"].astype(object)
            keep = np.zeros(len(keys), bool)
            for i, k in enumerate(keys):  # first occurrence wins: de-duplicate across all games
                if k not in seen:
                    seen.add(k)
                    keep[i] = True
            pos = {k: v[keep] for k, v in pos.items()}
            pos["source"] = np.full(keep.sum(), SOURCES.index(source), np.int8)
            chunks.append(pos)
            n_unique += int(keep.sum())
            bar.update(int(keep.sum()))
            if n_unique >= args.positions:
                break
    bar.close()
    pos = {k: np.concatenate([c[k] for c in chunks])[:args.positions] for k in chunks[0]}
    t_games = time.perf_counter() - t_start

    # --- split by game, rows ordered train | val | test ---
    games = np.unique(pos["game_id"])
    split_of_game = rng.choice(3, size=len(games), p=[1 - args.val_frac - args.test_frac, args.val_frac, args.test_frac])
    split = split_of_game[np.searchsorted(games, pos["game_id"])]
    order = np.lexsort((pos["ply"], pos["game_id"], split))
    pos = {k: v[order] for k, v in pos.items()}
    counts = np.bincount(split, minlength=3)
    bounds = np.concatenate([[0], np.cumsum(counts)]).tolist()

    # --- one forward pass per batch: activations, policy, value ---
    N = len(pos["me"])
    writer = StoreWriter(args.out, N, sites, net.cfg.d_model, args.dtype)
    for i in tqdm(range(0, N, 4096), desc="activations", unit="batch", disable=None):
        me, opp = pos["me"][i:i + 4096], pos["opp"][i:i + 4096]
        with torch.inference_mode():
            logits, v_logits, cache = net.run_with_cache(boards_tensor(me, opp, args.device), sites)
        writer.write(i, {
            **{f"acts_{s}": cache[s].float().cpu().numpy() for s in sites},
            "boards": game.to_planes(me, opp).astype(np.int8),
            "mover": np.where(pos["ply"][i:i + 4096] % 2 == 0, 1, -1).astype(np.int8),
            "ply": pos["ply"][i:i + 4096].astype(np.int16),
            "legal": game.legal_mask(me, opp),
            "game_id": pos["game_id"][i:i + 4096].astype(np.int32),
            "source": pos["source"][i:i + 4096],
            "policy": torch.softmax(logits.float(), -1).cpu().numpy().astype(np.float16),
            "value": value_from_logits(v_logits.float()).cpu().numpy().astype(np.float32),
        })
    elapsed = time.perf_counter() - t_start
    writer.close({
        "checkpoint": str(args.checkpoint), "checkpoint_sha256": file_sha256(args.checkpoint),
        "net_config": ck["net_config"], "n_games": int(len(games)), "seed": args.seed,
        "splits": {"train": bounds[0:2], "val": bounds[1:3], "test": bounds[2:4]},
        "created": datetime.datetime.now().isoformat(timespec="seconds"),
        "sources": {"names": SOURCES, "mix": mix, "alphabeta_depth": args.alphabeta_depth,
                    "temperature": args.temperature, "temperature_plies": args.temperature_plies,
                    "late_temperature": args.late_temperature},
        "collection_seconds": {"games": round(t_games, 1), "total": round(elapsed, 1)},
    })
    print(f"wrote {N:,} positions from {len(games):,} games ({counts[0]:,} train / {counts[1]:,} val / "
          f"{counts[2]:,} test) at sites {sites} to {args.out} in {elapsed:.0f} s ({N / elapsed:,.0f} positions/s)")


def parse_sites(text, all_sites):
    if text == "all":
        return list(all_sites)
    sites = []
    for part in text.split(","):
        part = part.strip()
        site = f"resid.{part}" if part.isdigit() else part
        if site not in all_sites:
            raise SystemExit(f"error: unknown layer '{part}'; choose block indices 0-{len(all_sites) - 2}, "
                             f"'embed', a comma list, or 'all' (sites: {', '.join(all_sites)})")
        sites.append(site)
    return sites


def parse_mix(text):
    mix = {}
    for part in text.split(","):
        name, _, share = part.partition("=")
        if name not in SOURCES:
            raise SystemExit(f"error: unknown source '{name}' in --mix; sources are {', '.join(SOURCES)}")
        mix[name] = float(share)
    total = sum(mix.values())
    return {k: v / total for k, v in mix.items() if v > 0}


if __name__ == "__main__":
    main()

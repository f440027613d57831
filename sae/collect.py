"""Collect residual-stream activations of the AlphaZero network on diverse positions -> an activation store.

    python -m sae.collect                                    # 200k positions at resid.2 of the shipped model
    python -m sae.collect --collect.positions 3000000 --site all --collect.out runs/acts_big

Positions come from games of the model itself (raw policy sampled with temperature)
and from games of the model against other players (`--collect.mix`: player specs, as in
othello/play.py, with their share of games; 'self' = the model against itself), for
diversity. Positions are de-duplicated (first occurrence kept), split into train / val /
test BY GAME, and written as an activation store (sae/activations.py). For each position
the store keeps the activations at every requested site, the board from the mover's side,
side to move, ply, legal mask, game id, source, the move played from it (in the game where it
first occurred) and the network's policy and value, all from one forward pass of one checkpoint,
whose sha256 the manifest records with the full config.

Games are played as a fixed sequence of tasks (`tasks`: round after round, each source's share
of `batch_games`), every task with its own generators seeded by [seed, task], and de-duplicated in
task order: so `--collect.backend ray` (tasks and forward passes spread over Ray actors,
sae/ray_jobs.py) writes the same store as the local backend.
"""
import datetime
import time

import numpy as np
import torch
from tqdm import tqdm

from alphazero.agents import PolicyPlayer, make_player
from alphazero.checkpoint import file_sha256, load_checkpoint, network_from_checkpoint, resolve_checkpoint
from alphazero.inference import boards_tensor
from alphazero.network import parse_sites, value_from_logits
from othello import game
from othello.sampling import MAX_PLIES
from sae.activations import ActivationStore, StoreWriter

SELF = "self"      # the mix entry for games of the model against itself
FORWARD_BATCH = 4096  # positions per forward pass when recording activations


def parse_mix(text):
    """'self=0.7,random=0.1,...' -> {spec: share} normalised to sum 1 (zero shares dropped); ValueError if malformed."""
    mix = {}
    for part in text.split(","):
        spec, _, share = part.strip().rpartition("=")
        try:
            value = float(share)
        except ValueError:
            value = -1.0
        if not spec or value < 0 or spec in mix:
            raise ValueError(f"bad collect.mix entry '{part.strip()}': expected SPEC=SHARE (SPEC: self or a player "
                             f"spec, SHARE >= 0, each SPEC once), e.g. self=0.7,random=0.1,greedy=0.12,alphabeta:2=0.08")
        mix[spec] = value
    total = sum(mix.values())
    if total <= 0:
        raise ValueError(f"collect.mix '{text}' gives every source a zero share")
    return {k: v / total for k, v in mix.items() if v > 0}


# 6 squares of (mine, theirs) bits -> their base-3 digits (0 empty, 1 mine, 2 theirs) as one number < 3^6
_BASE3 = np.array([sum((((a >> i) & 1) + 2 * ((b >> i) & 1)) * 3 ** i for i in range(6))
                   for a in range(64) for b in range(64)], np.uint64)


def position_keys(me, opp):
    """uint64 `[N]` bitboard pairs -> one uint64 per position (its base-3 board code, < 3^36 < 2^64)."""
    key = np.zeros(len(me), np.uint64)
    for c in range(6):  # six chunks of six squares, via the 4096-entry table
        idx = ((me >> np.uint64(6 * c)) & np.uint64(63)) * np.uint64(64) + ((opp >> np.uint64(6 * c)) & np.uint64(63))
        key += _BASE3[idx.astype(np.intp)] * np.uint64(729 ** c)
    return key


def first_unseen(keys, seen):
    """(keep mask over `keys`: the first occurrence of each key not in `seen`, updated sorted `seen`)."""
    uniq, first = np.unique(keys, return_index=True)
    at = np.searchsorted(seen, uniq)
    known = np.zeros(len(uniq), bool)
    inside = at < len(seen)
    known[inside] = seen[at[inside]] == uniq[inside]
    keep = np.zeros(len(keys), bool)
    keep[first[~known]] = True
    return keep, np.insert(seen, at[~known], uniq[~known])


class DistinctRows(torch.nn.Module):
    """The network run once per distinct board of a batch: lockstep games share their early positions
    (every game starts from the same board), so a ply's batch holds many repeats. Outputs are per row."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, board_B36):
        uniq, inverse = torch.unique(board_B36, dim=0, return_inverse=True)
        if len(uniq) == len(board_B36):
            return self.net(board_B36)
        logits, v_logits = self.net(uniq)
        return logits[inverse], v_logits[inverse]


def play_games(model, n_games, opponent, ccfg, first_game_id):
    """Play `n_games` of the model's sampled policy (vs `opponent`, if any) in lockstep.

    The network runs only where the model is to move. Returns per-position arrays
    {me, opp: uint64, ply, game_id: int64, move: the action then played (36 = pass)} `[N]` of every
    position before a move, ply-major.
    """
    me, opp = game.initial(n_games)
    model_first = np.arange(n_games) % 2 == 0  # vs an opponent: the model plays each colour half the time
    out = {"me": [], "opp": [], "ply": [], "game_id": [], "move": []}
    gid = first_game_id + np.arange(n_games)
    for ply in range(MAX_PLIES):
        idx = np.flatnonzero(~game.terminal(me, opp))
        if not len(idx):
            break
        m, o = me[idx], opp[idx]
        out["me"].append(m); out["opp"].append(o)
        out["ply"].append(np.full(len(idx), ply)); out["game_id"].append(gid[idx])
        model.temperature = ccfg.temperature if ply < ccfg.temperature_plies else ccfg.late_temperature
        if opponent is None:
            actions = model(m, o)
        else:
            mine = (ply % 2 == 0) == model_first[idx]  # passes are plies too: turns alternate with ply
            actions = np.empty(len(idx), np.int64)
            if mine.any():
                actions[mine] = model(m[mine], o[mine])
            if not mine.all():
                actions[~mine] = opponent(m[~mine], o[~mine])
        out["move"].append(actions)
        me[idx], opp[idx] = game.step(m, o, actions)
    return {k: np.concatenate(v) for k, v in out.items()}


def tasks(mix, batch_games):
    """The endless task sequence: (task, source index, spec, games, first game id), round after round over the mix."""
    task, first = 0, 0
    while True:
        for source, (spec, share) in enumerate(mix.items()):
            n = max(2, int(round(batch_games * share)))
            yield task, source, spec, n, first
            task, first = task + 1, first + n


class TaskPlayer:
    """The model (sampled policy) and its opponents, playing tasks. Each task reseeds every player's
    generator from [seed, task, role], so a task's games depend on nothing else: any process may play it."""

    def __init__(self, net, collect_cfg, mix, seed, device):
        self.model = PolicyPlayer(DistinctRows(net), device, temperature=collect_cfg.temperature, seed=seed)
        self.opponents = {spec: None if spec == SELF else make_player(spec, device=device, seed=seed) for spec in mix}
        self.cfg, self.seed = collect_cfg, seed

    def play(self, task, source, spec, n, first):
        """Positions of the task's `n` games (play_games' arrays plus `source`)."""
        opponent = self.opponents[spec]
        for role, player in enumerate((self.model, opponent)):
            if player is not None and hasattr(player, "rng"):
                player.rng = np.random.default_rng([self.seed, task, role])
        pos = play_games(self.model, n, opponent, self.cfg, first)
        pos["source"] = np.full(len(pos["me"]), source, np.int8)
        return pos


def record(net, me, opp, sites, device, act_dtype):
    """The network on positions, as the store keeps it: {acts_<site> (act_dtype), policy, value}."""
    with torch.inference_mode():
        logits, v_logits, cache = net.run_with_cache(boards_tensor(me, opp, device), sites)
    return {**{f"acts_{s}": cache[s].float().cpu().numpy().astype(act_dtype) for s in sites},
            "policy": torch.softmax(logits.float(), -1).cpu().numpy().astype(np.float16),
            "value": value_from_logits(v_logits.float()).cpu().numpy().astype(np.float32)}


def collect(checkpoint_path, sites, collect_cfg, seed, device, config_dict):
    """Stage: play games, keep unique positions, record the network on them -> the ActivationStore at collect_cfg.out.

    `sites`: a site spec ('2', 'resid.2', 'embed,resid.1', 'all') or a list of site names;
    `config_dict`: the run's config tree (config.to_dict), recorded in the manifest (with `collect_cfg.backend`
    ray, its train.ray_* settings place the actors).
    Raises ValueError (CheckpointError, ActivationStoreError, RayBackendError, ...) naming what is wrong.
    """
    c = collect_cfg
    if c.backend != "local":  # checked before any work; ray is imported only here
        from sae.ray_jobs import check_backend
        check_backend(c.backend, "collect.backend")
    t_start = time.perf_counter()
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    ck = load_checkpoint(checkpoint_path)
    net = network_from_checkpoint(ck, device)
    sites = parse_sites(sites, net.sites) if isinstance(sites, str) else parse_sites(",".join(sites), net.sites)
    mix = parse_mix(c.mix)
    if c.positions < 1 or c.batch_games < 1:
        raise ValueError(f"collect.positions and collect.batch_games must be >= 1, got {c.positions} and {c.batch_games}")
    if not (0 <= c.val_frac and 0 <= c.test_frac and c.val_frac + c.test_frac < 1):
        raise ValueError(f"collect.val_frac ({c.val_frac}) and collect.test_frac ({c.test_frac}) must be >= 0 with a sum < 1")

    player = TaskPlayer(net, c, mix, seed, device)  # here too with ray: a bad player spec fails before any actor starts
    pool = None
    if c.backend == "ray":  # actors play tasks and run the network; this process de-duplicates and writes
        from sae.ray_jobs import collect_pool
        pool = collect_pool(ck, c, mix, seed, config_dict)
    try:
        return _collect(pool, player, net, ck, checkpoint_path, sites, mix, c, seed, device, config_dict, rng, t_start)
    finally:
        if pool is not None:
            pool.close()


def _collect(pool, player, net, ck, checkpoint_path, sites, mix, c, seed, device, config_dict, rng, t_start):
    """collect() after its checks: `pool` (sae.ray_jobs.RayPool of CollectWorkers) or None (this process)."""
    # --- play games (task by task, in task order) until there are enough unique positions ---
    played = (pool.imap("play", tasks(mix, c.batch_games)) if pool is not None
              else (player.play(*t) for t in tasks(mix, c.batch_games)))
    chunks, seen, n_unique = [], np.zeros(0, np.uint64), 0
    bar = tqdm(total=c.positions, desc="positions", unit="pos", disable=None)
    for pos in played:
        keep, seen = first_unseen(position_keys(pos["me"], pos["opp"]), seen)  # first occurrence wins
        chunks.append({k: v[keep] for k, v in pos.items()})
        n_unique += int(keep.sum())
        bar.update(int(keep.sum()))
        if n_unique >= c.positions:
            break
    played.close()  # with ray: the tasks still queued are cancelled before the forward passes queue up
    bar.close()
    pos = {k: np.concatenate([ch[k] for ch in chunks])[:c.positions] for k in chunks[0]}
    t_games = time.perf_counter() - t_start

    # --- split by game, rows ordered train | val | test ---
    games = np.unique(pos["game_id"])
    split_of_game = rng.choice(3, size=len(games), p=[1 - c.val_frac - c.test_frac, c.val_frac, c.test_frac])
    split = split_of_game[np.searchsorted(games, pos["game_id"])]
    order = np.lexsort((pos["ply"], pos["game_id"], split))
    pos = {k: v[order] for k, v in pos.items()}
    bounds = np.concatenate([[0], np.cumsum(np.bincount(split, minlength=3))]).tolist()

    # --- one forward pass per batch: activations, policy, value ---
    N = len(pos["me"])
    writer = StoreWriter(c.out, N, sites, net.cfg.d_model, c.dtype)
    starts = range(0, N, FORWARD_BATCH)
    jobs = ((pos["me"][i:i + FORWARD_BATCH], pos["opp"][i:i + FORWARD_BATCH], sites) for i in starts)
    recorded = ((record(net, *job, device, c.dtype) for job in jobs) if pool is None
                else pool.imap("record", ((*job, c.dtype) for job in jobs)))
    for i, out in zip(tqdm(starts, desc="activations", unit="batch", disable=None), recorded):
        rows = slice(i, i + FORWARD_BATCH)
        me, opp = pos["me"][rows], pos["opp"][rows]
        writer.write(i, {
            **out,
            "boards": game.to_planes(me, opp).astype(np.int8),
            "mover": np.where(pos["ply"][rows] % 2 == 0, 1, -1).astype(np.int8),
            "ply": pos["ply"][rows].astype(np.int16),
            "legal": game.legal_mask(me, opp),
            "game_id": pos["game_id"][rows].astype(np.int32),
            "source": pos["source"][rows],
            "move": pos["move"][rows].astype(np.int8),
        })
    writer.close({
        "config": config_dict, "checkpoint": str(checkpoint_path), "checkpoint_sha256": file_sha256(checkpoint_path),
        "net_config": ck["net_config"], "splits": {"train": bounds[0:2], "val": bounds[1:3], "test": bounds[2:4]},
        "sources": list(mix), "n_games": int(len(games)), "seed": seed,
        "created": datetime.datetime.now().isoformat(timespec="seconds"),
        "collection_seconds": {"games": round(t_games, 1), "total": round(time.perf_counter() - t_start, 1)},
    })
    return ActivationStore(c.out)


def main(argv=None):
    import config  # the root config tree: only the command line needs it
    cfg = config.parse(config.Config, argv, __doc__)
    device = config.resolve_device(cfg.device)
    t0 = time.perf_counter()
    try:
        store = collect(resolve_checkpoint(cfg.checkpoint), cfg.site, cfg.collect, cfg.seed, device, config.to_dict(cfg))
    except ValueError as e:  # CheckpointError, ActivationStoreError, bad site / mix / player spec
        raise SystemExit(f"error: {e}") from None
    elapsed = time.perf_counter() - t0
    counts = [b - a for a, b in (store.split_rows(s) for s in ("train", "val", "test"))]
    print(f"wrote {store.count:,} positions from {store.manifest['n_games']:,} games ({counts[0]:,} train / "
          f"{counts[1]:,} val / {counts[2]:,} test) at sites {store.sites} to {store.path} in {elapsed:.0f} s "
          f"({store.count / elapsed:,.0f} positions/s)")


if __name__ == "__main__":
    main()

"""Downstream fidelity: splice the SAE's reconstruction into the network and compare its outputs.

At the SAE's site the activation a is replaced by x_hat = decode(encode(a)) (a hook).
On held-out positions we compare the spliced network with the clean one:
    kl          mean KL(clean policy || spliced policy), both renormalised over the legal moves
    kl_ablated  the same with the site mean-ablated (every activation replaced by the
                evaluation-set mean): the damage of deleting the site's information
    flr         fraction of loss recovered = 1 - kl / kl_ablated  (1: perfect, 0: no better than the mean)
    top1_agree  fraction of positions where both pick the same most likely legal move
    value_mae   mean |value_clean - value_spliced|, value = P(win) - P(loss)
and, optionally, a match of the spliced network against the clean one (both
playing their raw policy, sampled at a temperature, colours alternated).

Intervals (95%): kl and flr by the bootstrap over held-out GAMES (sae.metrics.bootstrap_weights; flr =
1 - sum kl / sum kl_ablated over the resampled games), in "ci95"; the match score (wins + draws / 2
over n games) by the Wilson score interval (`wilson`), in match "score_ci95" ("ci_method": "wilson").
"""
import math

import numpy as np
import torch
import torch.nn as nn

from alphazero.agents import PolicyPlayer
from alphazero.network import value_from_logits
from othello.arena import play_match
from sae.metrics import CI_LEVEL, bootstrap_weights, game_index, percentile_ci

MATCH_TEMPERATURE = 0.5  # policy temperature of both sides in the spliced-vs-clean match (argmax would replay one game)


class SplicedNet(nn.Module):
    """The base network with `sae`'s reconstruction replacing the activation at `site`."""

    def __init__(self, net, sae, site):
        super().__init__()
        self.net, self.sae, self.site = net, sae, site
        self.cfg = net.cfg

    def forward(self, board, hooks=None):
        hooks = dict(hooks or {})
        outer = hooks.get(self.site)

        def splice(a):
            x_hat = self.sae.decode(self.sae.encode(a)).to(a.dtype)
            out = outer(x_hat) if outer else None
            return x_hat if out is None else out
        hooks[self.site] = splice
        return self.net(board, hooks=hooks)


def _legal_log_probs(logits, legal):
    return torch.log_softmax(logits.float().masked_fill(~legal, float("-inf")), dim=-1)


def _kl(logp_clean, logp_other, legal):
    p = logp_clean.exp()
    terms = torch.where(legal, p * (logp_clean - logp_other), torch.zeros_like(p))
    return terms.sum(-1)


def wilson(successes, n, level=CI_LEVEL):
    """[low, high]: the Wilson score interval of a binomial proportion `successes / n` (draws: half a success)."""
    if n <= 0:
        return [0.0, 1.0]
    z = {0.95: 1.959963984540054}.get(level) or float(torch.distributions.Normal(0, 1).icdf(torch.tensor((1 + level) / 2)))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [max(0.0, centre - half), min(1.0, centre + half)]


def splice_ci(games, n_boot, seed):
    """{kl, flr: [low, high]}: 95% bootstrap intervals over the games of splice_metrics' per-game sums."""
    W = bootstrap_weights(len(games["n"]), n_boot, seed)
    kl, kla = W @ games["kl"], W @ games["kl_ablated"]
    return {"kl": percentile_ci(kl / (W @ games["n"])), "flr": percentile_ci(1.0 - kl / np.maximum(kla, 1e-12))}


@torch.no_grad()
def splice_metrics(net, sae, site, boards, legal, mean_act, batch_size=4096, device="cpu", game_id=None):
    """Policy/value agreement of the spliced network with the clean one on `boards [N, 36]`.

    `game_id [N]`: then the dict also has "games": per-game sums {n, kl, kl_ablated} (numpy) for the bootstrap."""
    net = net.to(device).eval()
    mean_act = torch.as_tensor(mean_act, dtype=torch.float32, device=device)
    tot = {"kl": 0.0, "kl_ablated": 0.0, "top1_agree": 0.0, "value_mae": 0.0, "value_mae_ablated": 0.0}
    n = len(boards)
    gidx, n_games = game_index(game_id) if game_id is not None else (None, 0)
    games = {k: torch.zeros(n_games, dtype=torch.float64) for k in ("n", "kl", "kl_ablated")}
    for i in range(0, n, batch_size):
        b = torch.from_numpy(np.array(boards[i:i + batch_size], dtype=np.float32)).to(device)
        lg = torch.from_numpy(np.array(legal[i:i + batch_size], dtype=bool)).to(device)
        clean_p, clean_v = net(b)
        sp_p, sp_v = net(b, hooks={site: lambda a: sae.decode(sae.encode(a)).to(a.dtype)})
        ab_p, ab_v = net(b, hooks={site: lambda a: mean_act.to(a.dtype).expand_as(a)})
        lc, ls, la = (_legal_log_probs(x, lg) for x in (clean_p, sp_p, ab_p))
        kl_B, kla_B = _kl(lc, ls, lg), _kl(lc, la, lg)
        tot["kl"] += kl_B.sum().item()
        tot["kl_ablated"] += kla_B.sum().item()
        if gidx is not None:
            idx = torch.from_numpy(gidx[i:i + batch_size])
            for key, v in (("n", torch.ones(len(b))), ("kl", kl_B), ("kl_ablated", kla_B)):
                games[key].index_add_(0, idx, v.double().cpu())
        tot["top1_agree"] += (lc.argmax(-1) == ls.argmax(-1)).sum().item()
        v = value_from_logits(clean_v.float())
        tot["value_mae"] += (v - value_from_logits(sp_v.float())).abs().sum().item()
        tot["value_mae_ablated"] += (v - value_from_logits(ab_v.float())).abs().sum().item()
    out = {k: v / n for k, v in tot.items()}
    out["flr"] = 1.0 - out["kl"] / out["kl_ablated"] if out["kl_ablated"] > 0 else float("nan")
    out["n_positions"] = int(n)
    if gidx is not None:
        out["games"] = {k: v.numpy() for k, v in games.items()}
    return out


def match_vs_clean(net, sae, site, n_games, device, seed):
    """Score of the spliced network against the clean one (draw = half a point), both sampling their
    raw policy at MATCH_TEMPERATURE, colours alternated, openings as othello.arena.play_match's default."""
    spliced = SplicedNet(net, sae, site).to(device).eval()
    a = PolicyPlayer(spliced, device=device, temperature=MATCH_TEMPERATURE, seed=seed)
    b = PolicyPlayer(net, device=device, temperature=MATCH_TEMPERATURE, seed=seed + 1)
    r = play_match(a, b, n_games, seed=seed, progress=False)
    return {"games": n_games, "wins": int(r.wins), "draws": int(r.draws), "losses": int(r.losses),
            "score": float(r.score), "score_ci95": wilson(r.wins + 0.5 * r.draws, n_games), "ci_method": "wilson",
            "temperature": MATCH_TEMPERATURE}


def evaluate_downstream(net, sae, store, site, split, max_rows, match_games, device, seed, n_boot=0):
    """Splice metrics on up to `max_rows` rows of a held-out split (plus a match if `match_games`);
    `n_boot` > 0: with 95% intervals ("ci95") from that many bootstrap resamples of the split's games."""
    a, b = store.split_rows(split)
    rows = slice(0, min(max_rows, b - a))
    acts = store.acts(site, split)
    total = np.zeros(acts.shape[1])
    for i in range(0, len(acts), 65536):  # mean over the whole split, read in chunks
        total += np.asarray(acts[i:i + 65536], dtype=np.float64).sum(0)
    mean_act = torch.from_numpy(total / len(acts))
    out = splice_metrics(net, sae, site, store.array("boards", split)[rows], store.array("legal", split)[rows],
                         mean_act, device=device, game_id=store.array("game_id", split)[rows])
    games = out.pop("games")
    out["n_games"] = int(len(games["n"]))
    if n_boot > 0:
        out["ci95"] = splice_ci(games, n_boot, seed)
    if match_games:
        out["match"] = match_vs_clean(net, sae, site, match_games, device=device, seed=seed)
    return out

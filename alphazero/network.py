"""Residual network with transformer-style feed-forward blocks and named activation sites.

Input `[B, 36]`: the board from the mover's side (+1 mine, -1 theirs, 0 empty),
embedded from two planes (mine, theirs) into a residual stream of width `d_model`.
Each block adds `W2 relu(W1 LN(x))` to the stream (pre-norm, as in a transformer
MLP sublayer). Heads read `LN(x)`: 37 policy logits and 3 value logits
(win / draw / loss), so a draw is a real outcome and `value = P(win) - P(loss)`.

Activation sites (the residual stream, `[B, d_model]`):
    "embed"   after the embedding (before block 0)
    "resid.L" after block L, L = 0..n_blocks-1.  "Layer 2" means "resid.2".
`forward(x, hooks={site: fn})` calls `fn(act)` at each named site; a non-None
return value replaces the activation (splice an SAE, steer a feature).
`run_from(site, act)` finishes the forward pass from a site's activation.
With no hooks the forward pass does no extra work.

With `NetConfig.aux_heads` two training-only heads also read `LN(x)`: final ownership of
each square from the mover's side (3 logits per square: mine / empty / theirs) and the final
disc difference. `forward` still returns (policy, value); `forward_aux` returns all four.
The residual stream and the sites are the same with or without them.
"""
from dataclasses import asdict

import torch
import torch.nn as nn
import torch.nn.functional as F

from alphazero.config import NetConfig


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.ln = nn.LayerNorm(cfg.d_model)
        self.fc1 = nn.Linear(cfg.d_model, cfg.d_hidden)
        self.fc2 = nn.Linear(cfg.d_hidden, cfg.d_model)

    def forward(self, x):
        return x + self.fc2(F.relu(self.fc1(self.ln(x))))  # ReLU: 5x cheaper than GELU on CPU


class AlphaZeroNet(nn.Module):
    def __init__(self, cfg=None):
        super().__init__()
        self.cfg = cfg or NetConfig()
        c = self.cfg
        self.embed = nn.Linear(72, c.d_model)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.n_blocks))
        self.ln_f = nn.LayerNorm(c.d_model)
        self.policy_head = nn.Linear(c.d_model, 37)
        self.value_head = nn.Linear(c.d_model, 3)
        if c.aux_heads:
            self.ownership_head = nn.Linear(c.d_model, 36 * 3)
            self.score_head = nn.Linear(c.d_model, 1)
        self.sites = ["embed"] + [f"resid.{i}" for i in range(c.n_blocks)]

    def _site_index(self, site):
        if site not in self.sites:
            raise ValueError(f"unknown site '{site}'; the sites are {self.sites}")
        return self.sites.index(site)

    def _heads(self, x):
        h = self.ln_f(x)
        return self.policy_head(h), self.value_head(h)

    def _embed(self, board):
        planes = torch.cat([(board > 0), (board < 0)], dim=-1).to(self.embed.weight.dtype)
        return self.embed(planes)

    def forward(self, board, hooks=None):
        """board `[B, 36]` -> (policy logits `[B, 37]`, value logits `[B, 3]` W/D/L)."""
        x = self._embed(board)
        if hooks:
            return self._run(x, hooks)
        for blk in self.blocks:
            x = blk(x)
        return self._heads(x)

    def forward_aux(self, board):
        """board `[B, 36]` -> (policy logits `[B, 37]`, value logits `[B, 3]`, ownership logits
        `[B, 36, 3]` (mine / empty / theirs at the end, mover's side), final disc difference `[B]`
        (mover minus opponent, in discs)). Needs a network built with aux_heads."""
        if not self.cfg.aux_heads:
            raise ValueError("this network has no auxiliary heads (NetConfig.aux_heads is off)")
        x = self._embed(board)
        for blk in self.blocks:
            x = blk(x)
        h = self.ln_f(x)
        own = self.ownership_head(h).view(-1, 36, 3)
        return self.policy_head(h), self.value_head(h), own, 36.0 * self.score_head(h)[:, 0]

    def _run(self, x, hooks):
        """Blocks and heads from the embedded stream, calling hooks at each site."""
        x = _apply(hooks.get("embed"), x)
        for i, blk in enumerate(self.blocks):
            x = _apply(hooks.get(f"resid.{i}"), blk(x))
        return self._heads(x)

    def run_from(self, site, act):
        """Finish the forward pass from activation `act [B, d_model]` at `site`."""
        i = self._site_index(site)
        x = act
        for blk in self.blocks[i:]:
            x = blk(x)
        return self._heads(x)

    def run_with_cache(self, board, sites):
        """Return (policy logits, value logits, {site: activation}) for the requested sites."""
        for s in sites:
            self._site_index(s)
        cache = {}
        hooks = {s: (lambda a, s=s: cache.__setitem__(s, a)) for s in sites}
        p, v = self.forward(board, hooks=hooks)
        return p, v, cache


def _apply(fn, x):
    if fn is None:
        return x
    out = fn(x)
    return x if out is None else out


def value_from_logits(v_logits):
    """W/D/L logits `[B, 3]` -> expected score in [-1, 1] `[B]`."""
    p = torch.softmax(v_logits, dim=-1)
    return p[..., 0] - p[..., 2]


def config_dict(cfg):
    return asdict(cfg)


def parse_sites(text, all_sites):
    """Site spec -> list of sites, the one parser every command uses.

    `text`: a site name ('embed', 'resid.2'), a block index ('2' = 'resid.2'), a comma list
    of those, or 'all'. Raises ValueError naming the bad part and the valid sites.
    """
    if text.strip() == "all":
        return list(all_sites)
    sites = []
    for part in text.split(","):
        part = part.strip()
        site = f"resid.{part}" if part.isdigit() else part
        if site not in all_sites:
            raise ValueError(f"unknown site '{part}': use {', '.join(all_sites)}, a block index, a comma list, or all")
        if site not in sites:
            sites.append(site)
    return sites

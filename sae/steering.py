"""Steer or ablate SAE features inside the network: the one implementation that play.py, the steering
benchmark and the position inspector use.

    edits = parse_steer("runs/sae/relu_f512_l1-3:405=3.5,17+=-2")   # [(folder, Edit), ...]
    net2 = steered_network(net, sae, edits, site="resid.2")         # an AlphaZeroNet look-alike
    steer_player(player, steers)        # PolicyPlayer / MCTSPlayer: the network they evaluate is steered

Spec grammar (one item, or a comma list; an item without `SAE_DIR:` uses the previous item's folder):
    SAE_DIR:FEATURE=VALUE    clamp: the feature's activation becomes VALUE
    SAE_DIR:FEATURE+=VALUE   add: VALUE along the feature's decoder direction, whatever it was
    SAE_DIR:FEATURE          (--ablate) clamp to 0

At the SAE's site (cfg.json metadata.hook_name, which export_sae writes), with f = sae.encode(x) computed
once on the clean activation x and d_i = W_dec[i] (unit rows after folding):
    x' = x + sum_i delta_i d_i,   delta_i = VALUE_i - f_i(x) (clamp) or VALUE_i (add)
i.e. the SAE's decode of the edited code plus the SAE's own error term, which is kept: the edit changes
only what the edited features write, never what the SAE fails to reconstruct. Several SAEs at one site
apply in the order given (each reads the stream the previous one left).
"""
import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn

from sae.export import load_sae


@dataclass(frozen=True)
class Edit:
    feature: int
    value: float
    mode: str = "clamp"   # "clamp": f_i := value; "add": f_i += value (along the decoder row)

    def text(self):
        return f"{self.feature}{'+=' if self.mode == 'add' else '='}{self.value:g}"


def parse_items(text, ablate=False, flag="--steer"):
    """One --steer / --ablate value -> [(folder str, Edit)]; ValueError naming the bad item and what is wrong."""
    out, folder = [], ""
    for item in (p.strip() for p in text.split(",")):
        if not item:
            raise ValueError(f"{flag} '{text}': an empty item (expected SAE_DIR:FEATURE{'' if ablate else '=VALUE'})")
        head, sep, rest = item.rpartition(":")
        if sep:
            folder = head
        elif not folder:
            raise ValueError(f"{flag} '{item}': no SAE folder (expected SAE_DIR:FEATURE{'' if ablate else '=VALUE'})")
        if ablate:
            feat, mode, value = rest, "clamp", "0"
        elif "+=" in rest:
            (feat, value), mode = rest.split("+=", 1), "add"
        elif "=" in rest:
            (feat, value), mode = rest.split("=", 1), "clamp"
        else:
            raise ValueError(f"{flag} '{item}': expected FEATURE=VALUE (clamp) or FEATURE+=VALUE (add) after the folder")
        if not feat.strip().isdigit():
            raise ValueError(f"{flag} '{item}': feature '{feat}' is not a feature index (a non-negative integer)")
        try:
            v = float(value)
        except ValueError:
            raise ValueError(f"{flag} '{item}': value '{value}' is not a number") from None
        if not math.isfinite(v):
            raise ValueError(f"{flag} '{item}': value '{value}' is not finite")
        out.append((folder, Edit(int(feat), v, mode)))
    return out


def parse_specs(steer=(), ablate=()):
    """All --steer and --ablate values -> {folder: [Edit]} (folders in order of first mention)."""
    by = {}
    for flag, specs, abl in (("--steer", steer, False), ("--ablate", ablate, True)):
        for text in specs:
            for folder, e in parse_items(text, abl, flag):
                by.setdefault(folder, []).append(e)
    return by


def sae_site(folder):
    """The site an SAE folder was trained at (cfg.json metadata.hook_name) and its checkpoint sha256 (or None)."""
    f = Path(folder) / "cfg.json"
    try:
        meta = json.loads(f.read_text()).get("metadata", {})
    except (OSError, ValueError, AttributeError) as e:
        raise ValueError(f"{f} is not a readable SAE config ({type(e).__name__})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("hook_name"), str):
        raise ValueError(f"{f}: metadata.hook_name (the SAE's site) is missing")
    return meta["hook_name"], meta.get("checkpoint_sha256")


@dataclass
class Steer:
    """One SAE's edits, ready to hook: the loaded SAE, its site, folder and the checkpoint it was trained on."""
    sae: nn.Module
    site: str
    edits: list
    folder: str = ""
    checkpoint_sha256: str = None

    def text(self):
        return f"{Path(self.folder).name}:{','.join(e.text() for e in self.edits)}"


def check_edits(sae, edits, where=""):
    for e in edits:
        if not 0 <= e.feature < sae.d_sae:
            raise ValueError(f"{where}feature {e.feature} is out of range: the SAE has {sae.d_sae} features (0..{sae.d_sae - 1})")


def load_steers(by_folder, device="cpu"):
    """{folder: [Edit]} -> [Steer], each SAE loaded once; ValueError (SAELoadError) naming the folder or feature."""
    steers = []
    for folder, edits in by_folder.items():
        if not Path(folder).is_dir():
            raise ValueError(f"SAE folder '{folder}' does not exist")
        sae = load_sae(folder, device)
        check_edits(sae, edits, f"{folder}: ")
        site, sha = sae_site(folder)
        steers.append(Steer(sae, site, list(edits), str(folder), sha))
    return steers


def edit_hook(sae, edits):
    """The hook fn(x_BD) -> x'_BD of the module doc, for one SAE's edits (computed in float32)."""
    feats_E = torch.tensor([e.feature for e in edits], dtype=torch.long)
    value_E = torch.tensor([e.value for e in edits], dtype=torch.float32)
    add_E = torch.tensor([e.mode == "add" for e in edits])

    def hook(x_BD):
        dev = x_BD.device
        W_ED = sae.W_dec[feats_E.to(dev)].float()
        f_BE = sae.encode(x_BD.float())[:, feats_E.to(dev)]
        v_E = value_E.to(dev)
        delta_BE = torch.where(add_E.to(dev), v_E.expand_as(f_BE), v_E - f_BE)
        return (x_BD.float() + delta_BE @ W_ED).to(x_BD.dtype)
    return hook


def _compose(f, g):
    """Hook running f then g at one site (either may return None: keep the activation)."""
    def both(x):
        y = f(x)
        y = x if y is None else y
        z = g(y)
        return y if z is None else z
    return both


class SteeredNetwork(nn.Module):
    """A network whose forward pass applies fixed hooks (steering edits) plus any the caller passes.

    Called exactly like AlphaZeroNet (`net(board, hooks=None) -> (policy logits, value logits)`), so the
    players and NetEvaluator use it unchanged; run_with_cache and run_from see the steered stream
    (run_from applies the edits at sites after the one it starts from)."""

    def __init__(self, net, hooks, label=""):
        super().__init__()
        self.net = net
        self.hooks = dict(hooks)
        self.label = label
        self.saes = nn.ModuleList()   # so .to(device) moves the SAEs with the network

    @property
    def cfg(self):
        return self.net.cfg

    @property
    def sites(self):
        return self.net.sites

    def merged(self, hooks):
        out = dict(self.hooks)
        for site, fn in (hooks or {}).items():
            out[site] = _compose(out[site], fn) if site in out else fn
        return out

    def forward(self, board, hooks=None):
        return self.net(board, hooks=self.merged(hooks))

    def run_with_cache(self, board, sites):
        cache = {}
        extra = {s: (lambda a, s=s: cache.__setitem__(s, a)) for s in sites}
        p, v = self.forward(board, hooks=extra)
        return p, v, cache

    def run_from(self, site, act):
        i = self.net.sites.index(site)
        x = act
        for j, blk in enumerate(self.net.blocks[i:], start=i):
            x = blk(x)
            fn = self.hooks.get(f"resid.{j}")
            if fn is not None:
                y = fn(x)
                x = x if y is None else y
        return self.net._heads(x)


def steered_network(net, sae, edits, site=None):
    """`net` with `sae`'s features edited at `site` (default: the site recorded on a Steer / loaded folder).

    `sae` may also be a list of Steer (then `edits` and `site` are ignored): all of them, in order."""
    steers = sae if isinstance(sae, list) else [Steer(sae, site, list(edits))]
    hooks, out = {}, SteeredNetwork(net, {}, ", ".join(s.text() for s in steers))
    for s in steers:
        if s.site not in net.sites:
            raise ValueError(f"the SAE{' ' + s.folder if s.folder else ''} is at site '{s.site}', which this "
                             f"network does not have (its sites: {', '.join(net.sites)})")
        if s.sae.d_in != net.cfg.d_model:
            raise ValueError(f"the SAE{' ' + s.folder if s.folder else ''} reads {s.sae.d_in}-wide activations; "
                             f"this network's stream is {net.cfg.d_model} wide")
        check_edits(s.sae, s.edits)
        fn = edit_hook(s.sae, s.edits)
        hooks[s.site] = _compose(hooks[s.site], fn) if s.site in hooks else fn
        out.saes.append(s.sae)
    out.hooks = hooks
    return out


def steer_player(player, steers):
    """Make a network player (PolicyPlayer or MCTSPlayer) evaluate the steered network; renames it.
    ValueError for any other player (a rule-based player has no network to steer)."""
    from alphazero.agents import MCTSPlayer, PolicyPlayer  # the players sit below sae/ in the import order
    if isinstance(player, PolicyPlayer):
        player.net = steered_network(player.net, steers, None).to(player.device).eval()
    elif isinstance(player, MCTSPlayer):
        ev = player.evaluate
        ev.net = steered_network(ev.net, steers, None).to(ev.device).eval()
    else:
        raise ValueError(f"--steer / --ablate need a network player (policy:PATH, mcts:PATH, shipped or a checkpoint), "
                         f"got '{getattr(player, 'name', type(player).__name__)}'")
    player.name = f"{player.name}+steer[{'; '.join(s.text() for s in steers)}]"
    return player

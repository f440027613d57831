"""Dead-feature tracking and resampling (Anthropic, "Towards Monosemanticity", 2023).

A feature is dead when it has not fired for `window` steps. Resampling gives each
dead feature a new direction taken from an input the SAE reconstructs badly
(inputs sampled with probability proportional to their squared loss):
decoder row = v / ||v|| with v = x - b_dec (what the SAE must reconstruct),
encoder column = that * RESAMPLE_ENC_FRAC (sae/archs.py) * mean encoder norm of the alive
features, encoder bias 0 (a JumpReLU threshold back to its initial value), and the Adam
moments of every row/column touched reset to zero, so stale momentum does not immediately
push the new direction away.
"""
import torch

from sae.archs import JUMPRELU_THETA_INIT, RESAMPLE_ENC_FRAC


class FiringTracker:
    """Step at which each feature last fired; dead = silent for more than `window` steps."""

    def __init__(self, d_sae, window, device="cpu"):
        self.window = window
        self.last_fired = torch.zeros(d_sae, dtype=torch.long, device=device)

    def update(self, fired_F, step):
        self.last_fired[fired_F] = step

    def dead(self, step):
        return (step - self.last_fired) > self.window

    def reset(self, mask, step):
        self.last_fired[mask] = step

    def state_dict(self):
        return {"last_fired": self.last_fired.cpu(), "window": self.window}

    def load_state_dict(self, d):
        self.last_fired.copy_(d["last_fired"])
        self.window = d["window"]


@torch.no_grad()
def resample_dead(sae, optimizer, dead_F, x_BD, loss_B, generator=None):
    """Re-initialise the features in `dead_F` from high-loss inputs of `x_BD`; returns how many."""
    dead = dead_F.nonzero().squeeze(1)
    n = len(dead)
    if n == 0:
        return 0
    probs = loss_B.float().clamp_min(0).pow(2)
    probs = probs if probs.sum() > 0 else torch.ones_like(probs)
    pick = torch.multinomial(probs.cpu(), n, replacement=n > len(probs), generator=generator).to(x_BD.device)
    v_ND = x_BD[pick].float() - sae.b_dec.float()
    v_ND = v_ND / v_ND.norm(dim=1, keepdim=True).clamp_min(1e-8)
    alive = ~dead_F
    enc_norm = sae.W_enc.norm(dim=0)[alive].mean() if alive.any() else torch.tensor(1.0, device=x_BD.device)
    sae.W_dec.data[dead] = v_ND
    sae.W_enc.data[:, dead] = (v_ND * RESAMPLE_ENC_FRAC * enc_norm).t()
    for name, axis in sae.feature_axes.items():
        p = getattr(sae, name)
        if name not in ("W_enc", "W_dec"):
            p.data.index_fill_(axis, dead, 0.0)
        if name == "threshold":
            p.data.index_fill_(axis, dead, JUMPRELU_THETA_INIT)
        for moment in ("exp_avg", "exp_avg_sq"):
            state = optimizer.state.get(p, {})
            if moment in state:
                state[moment].index_fill_(axis, dead, 0.0)
    return n

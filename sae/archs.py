"""SAE architectures, one class each behind one interface.

Every SAE works on *scaled* inputs (the trainer multiplies raw activations by the
fixed `scale` buffer so that mean ||x|| = sqrt(d_in)); `export.fold` turns it into a
module on raw activations. Interface:

    encode(x_BD) -> f_BF            decode(f_BF) -> x_hat_BD
    forward(x_BD) -> (x_hat_BD, f_BF, aux)   aux: {name: scalar loss} (already weighted)
    loss(x_BD, step_frac) -> (total, logs, f_BF)   logs: {"mse", "sparsity", ...} detached scalars
    before_step() / after_step()             decoder-norm constraints around optimizer.step()
    raw_tensors() -> {name: tensor}          SAELens tensors on raw inputs (decoder norms, scale folded)

Shapes: B batch, D = d_in, F = d_sae. Reconstruction error is summed over D and
averaged over B (the April-2024 convention the L1 coefficients 1..5 refer to).
"""
import math
from dataclasses import dataclass

import torch
import torch.nn as nn

ARCHS = ("relu", "topk", "batchtopk", "jumprelu", "gated")


@dataclass
class SAEConfig:
    arch: str = "relu"        # one of ARCHS
    d_in: int = 256           # activation width at the site
    d_sae: int = 2048         # dictionary size (number of features)
    l1: float = 3.0           # sparsity coefficient: L1 (relu, gated) or L0 (jumprelu) penalty weight
    k: int = 32               # active features per input (topk) or per input on average (batchtopk)
    lr: float = 0.0           # Adam learning rate; 0 = the architecture's default (default_lr)
    seed: int = 0             # parameter init seed

    @property
    def name(self):
        knob = f"k{self.k}" if self.arch in ("topk", "batchtopk") else f"l1-{self.l1:g}"
        return f"{self.arch}_f{self.d_sae}_{knob}" + (f"_s{self.seed}" if self.seed else "")


def default_lr(cfg):
    """Learning rates for short CPU runs; TopK family follows OpenAI's 2e-4 / sqrt(F / 2^14)."""
    if cfg.arch in ("topk", "batchtopk"):
        return 2e-4 / math.sqrt(cfg.d_sae / 2 ** 14)
    return 4e-4


def _unit_rows(w):
    return w / w.norm(dim=-1, keepdim=True).clamp_min(1e-8)


class SAE(nn.Module):
    """Shared parameters and the ReLU-style encoder; subclasses override what differs."""
    arch = None
    # parameter name -> axis indexing features (used to resample rows/cols and reset their Adam moments)
    feature_axes = {"W_enc": 1, "b_enc": 0, "W_dec": 0}
    scaled_biases = ("b_enc",)     # biases (and thresholds) rescaled with each feature when folding
    dec_init_norm = 1.0            # decoder row norm at init
    saelens_arch = "standard"
    warmup_frac = 0.05             # sparsity coefficient warm-up (the trainer sets it from its config)

    def __init__(self, cfg, scale=1.0, b_dec=None):
        super().__init__()
        self.cfg = cfg
        g = torch.Generator().manual_seed(cfg.seed)
        W_dec_FD = _unit_rows(torch.randn(cfg.d_sae, cfg.d_in, generator=g)) * self.dec_init_norm
        self.W_dec = nn.Parameter(W_dec_FD)                       # [F, D]
        self.W_enc = nn.Parameter(W_dec_FD.t().clone())           # [D, F], W_enc = W_dec^T at init
        self.b_enc = nn.Parameter(torch.zeros(cfg.d_sae))         # [F]
        self.b_dec = nn.Parameter(torch.zeros(cfg.d_in) if b_dec is None else b_dec.clone().float())  # [D]
        self.register_buffer("scale", torch.tensor(float(scale)))  # raw activations * scale = SAE inputs
        self.register_buffer("dead_F", torch.zeros(cfg.d_sae, dtype=torch.bool))  # set by the trainer (AuxK)

    def pre_acts(self, x_BD):
        # addmm, not `@ W + b`: under bf16 autocast the bias joins the matmul and the [B, F]
        # result stays bf16 (a separate fp32 bias add would promote and copy the largest tensor)
        return torch.addmm(self.b_enc, x_BD - self.b_dec, self.W_enc)

    def encode(self, x_BD):
        return torch.relu(self.pre_acts(x_BD))

    def decode(self, f_BF):
        return torch.addmm(self.b_dec, f_BF, self.W_dec)

    def forward(self, x_BD):
        f_BF = self.encode(x_BD)
        return self.decode(f_BF), f_BF, {}

    @staticmethod
    def sq_err(x_BD, x_hat_BD):
        return (x_hat_BD.float() - x_BD.float()).pow(2).sum(-1)  # [B]

    def sparsity_loss(self, x_BD, f_BF, step_frac):
        return torch.zeros((), device=x_BD.device)

    def loss(self, x_BD, step_frac=1.0):
        x_hat_BD, f_BF, aux = self(x_BD)
        mse = self.sq_err(x_BD, x_hat_BD).mean()
        sparsity = self.sparsity_loss(x_BD, f_BF, step_frac)
        total = mse + sparsity + sum(aux.values())
        logs = {"mse": mse.detach(), "sparsity": sparsity.detach(), **{k: v.detach() for k, v in aux.items()}}
        return total, logs, f_BF.detach()

    def param_groups(self, lr):
        """Adam parameter groups; `base_lr` is what the trainer's schedule multiplies."""
        return [{"params": list(self.parameters()), "lr": lr, "base_lr": lr}]

    def before_step(self):
        pass

    def after_step(self):
        pass

    def warmup(self, step_frac):
        """Sparsity-coefficient warm-up factor: linear from 0 over the first `warmup_frac` of training."""
        return min(1.0, step_frac / self.warmup_frac) if self.warmup_frac > 0 else 1.0

    @torch.no_grad()
    def raw_tensors(self):
        """SAELens tensors that act on RAW activations: f_raw_i = f_i * ||W_dec_i|| / scale.

        With c_i = ||W_dec_i|| / s, the pre-activation c_i * pre_i equals
        (x - b_dec / s) . (||W_dec_i|| W_enc_i) + c_i b_enc_i, so ReLU / JumpReLU /
        gate decisions are unchanged and x_hat = f_raw @ unit(W_dec) + b_dec / s.
        """
        s = self.scale.float()
        norm_F = self.W_dec.float().norm(dim=1).clamp_min(1e-8)
        c_F = norm_F / s
        out = {"W_enc": (self.W_enc.float() * norm_F).contiguous(),
               "W_dec": (self.W_dec.float() / norm_F[:, None]).contiguous(),
               "b_dec": (self.b_dec.float() / s).contiguous()}
        for name in self.scaled_biases:
            out[name] = (getattr(self, name).float().expand(self.cfg.d_sae) * c_F).contiguous()
        return out

    def saelens_extra(self):
        return {}


class ReLUSAE(SAE):
    """Anthropic April 2024: L1 of f weighted by decoder norms, no norm constraint, small decoder init."""
    arch = "relu"
    dec_init_norm = 0.1

    def sparsity_loss(self, x_BD, f_BF, step_frac):
        l1 = (f_BF @ self.W_dec.norm(dim=1)).float().mean()  # sum_i f_i ||W_dec_i|| (bf16 under autocast)
        return self.cfg.l1 * self.warmup(step_frac) * l1


class _UnitDecoder(SAE):
    """Unit-norm decoder rows: remove the gradient component parallel to each row, renormalise after the step."""

    def before_step(self):
        if self.W_dec.grad is not None:
            W, G = self.W_dec.data, self.W_dec.grad
            G -= (G * W).sum(1, keepdim=True) * W

    def after_step(self):
        self.W_dec.data = _unit_rows(self.W_dec.data)

    def auxk(self, x_BD, x_hat_BD, pre_BF):
        """AuxK (OpenAI 2024): the top k_aux dead latents reconstruct the residual; coefficient 1/32."""
        n_dead = int(self.dead_F.sum())
        if n_dead == 0 or not self.training:
            return {}
        k_aux = min(self.cfg.d_in // 2, n_dead)
        dead_pre = pre_BF.masked_fill(~self.dead_F, float("-inf"))
        vals, idx = dead_pre.topk(k_aux, dim=-1)
        f_aux = torch.zeros_like(pre_BF).scatter(-1, idx, torch.relu(vals))
        e_BD = (x_BD - x_hat_BD).detach()
        return {"auxk": self.sq_err(e_BD, f_aux @ self.W_dec).mean() / 32}


class TopKSAE(_UnitDecoder):
    """OpenAI 2024: keep the k largest pre-activations (then ReLU); exactly <= k active."""
    arch = "topk"
    saelens_arch = "topk"

    def encode(self, x_BD):
        return self._encode(self.pre_acts(x_BD))

    def _encode(self, pre_BF):
        vals, idx = pre_BF.topk(self.cfg.k, dim=-1)
        return torch.zeros_like(pre_BF).scatter(-1, idx, torch.relu(vals))

    def forward(self, x_BD):
        pre_BF = self.pre_acts(x_BD)
        f_BF = self._encode(pre_BF)
        x_hat_BD = self.decode(f_BF)
        return x_hat_BD, f_BF, self.auxk(x_BD, x_hat_BD, pre_BF)

    def saelens_extra(self):
        return {"k": self.cfg.k}


class BatchTopKSAE(_UnitDecoder):
    """Bussmann 2024: top k*B activations over the whole batch while training; at inference
    a global threshold (EMA of the smallest selected activation), exported as JumpReLU."""
    arch = "batchtopk"
    saelens_arch = "jumprelu"
    scaled_biases = ("b_enc", "threshold")
    ema = 0.99  # threshold EMA decay per step

    def __init__(self, cfg, scale=1.0, b_dec=None):
        super().__init__(cfg, scale, b_dec)
        self.register_buffer("threshold", torch.tensor(-1.0))  # < 0: not estimated yet

    def _encode(self, pre_BF):
        pre_BF = torch.relu(pre_BF)
        if not self.training:
            return pre_BF * (pre_BF > self.threshold.clamp_min(0))
        B, F = pre_BF.shape
        n_keep = min(self.cfg.k * B, B * F)
        # two stages, exact: the global top k*B lies within each row's top `cand` unless some row
        # has all `cand` candidates selected (then fall back to one flat topk, ~3x slower on CPU)
        cand = min(F, 4 * self.cfg.k)
        vals_BC, idx_BC = pre_BF.topk(cand, dim=-1)
        top, pick = vals_BC.flatten().topk(n_keep)
        keep_BC = torch.zeros(B * cand, dtype=torch.bool, device=pre_BF.device)
        keep_BC[pick] = True
        keep_BC = keep_BC.view(B, cand)
        if cand < F and bool(keep_BC.all(-1).any()):
            flat = pre_BF.flatten()
            top, pick = flat.topk(n_keep)
            f_BF = torch.zeros_like(flat).scatter(0, pick, top).view_as(pre_BF)
        else:
            f_BF = torch.zeros_like(pre_BF).scatter(-1, idx_BC, vals_BC * keep_BC)
        with torch.no_grad():
            pos = top[top > 0]
            if len(pos):
                m = pos.min().float()
                self.threshold.copy_(m if self.threshold < 0 else self.ema * self.threshold + (1 - self.ema) * m)
        return f_BF

    def encode(self, x_BD):
        return self._encode(self.pre_acts(x_BD))

    def forward(self, x_BD):
        pre_BF = self.pre_acts(x_BD)
        f_BF = self._encode(pre_BF)
        x_hat_BD = self.decode(f_BF)
        return x_hat_BD, f_BF, self.auxk(x_BD, x_hat_BD, pre_BF)


class _JumpFn(torch.autograd.Function):
    """f = pre * H(pre - theta); straight-through gradient to theta with a rectangle kernel of width bw."""

    @staticmethod
    def forward(ctx, pre, theta, bw):
        ctx.save_for_backward(pre, theta)
        ctx.bw = bw
        return pre * (pre > theta)

    @staticmethod
    def backward(ctx, g):
        pre, theta = ctx.saved_tensors
        near = ((pre - theta).abs() < ctx.bw / 2).to(g.dtype)
        g_theta = (-(theta / ctx.bw) * near * g).sum(0)
        return g * (pre > theta).to(g.dtype), g_theta, None


class _StepFn(torch.autograd.Function):
    """H(pre - theta) for the L0 penalty; gradient only to theta (pseudo-derivative -1/bw in the window)."""

    @staticmethod
    def forward(ctx, pre, theta, bw):
        ctx.save_for_backward(pre, theta)
        ctx.bw = bw
        return (pre > theta).to(pre.dtype)

    @staticmethod
    def backward(ctx, g):
        pre, theta = ctx.saved_tensors
        near = ((pre - theta).abs() < ctx.bw / 2).to(g.dtype)
        return None, (-(1.0 / ctx.bw) * near * g).sum(0), None


class JumpReLUSAE(SAE):
    """Rajamanoharan 2024 JumpReLU with an L0 penalty and straight-through threshold gradients.

    Threshold parameterisation (our choice): theta is a plain linear parameter in
    the scaled input space (where pre-activations are O(1)), initialised to 0.1 and
    clamped >= 0 after each step; bandwidth 0.05 in the same units; its Adam learning
    rate is 10x the rest. With Adam a linear theta moves ~lr per step whatever its
    size; a log-threshold instead gets gradients theta * dL/dtheta that, for small
    theta and a sparse kernel, fall below Adam's eps and freeze it.
    """
    arch = "jumprelu"
    saelens_arch = "jumprelu"
    feature_axes = {**SAE.feature_axes, "threshold": 0}
    scaled_biases = ("b_enc", "threshold")
    bandwidth = 0.05
    theta_init = 0.1
    threshold_lr_mult = 10.0  # thresholds are O(1): at lr 4e-4 they could move only ~0.4 per 1000 steps

    def param_groups(self, lr):
        rest = [p for n, p in self.named_parameters() if n != "threshold"]
        return [{"params": rest, "lr": lr, "base_lr": lr},
                {"params": [self.threshold], "lr": lr * self.threshold_lr_mult, "base_lr": lr * self.threshold_lr_mult}]

    def __init__(self, cfg, scale=1.0, b_dec=None):
        super().__init__(cfg, scale, b_dec)
        self.threshold = nn.Parameter(torch.full((cfg.d_sae,), self.theta_init))

    def encode(self, x_BD):
        return self._encode(torch.relu(self.pre_acts(x_BD)))

    def _encode(self, pre_BF):
        return _JumpFn.apply(pre_BF, self.threshold.to(pre_BF.dtype), self.bandwidth)

    def forward(self, x_BD):
        pre_BF = torch.relu(self.pre_acts(x_BD))
        self._pre = pre_BF  # kept for this step's L0 penalty (saves a second encoder matmul)
        f_BF = self._encode(pre_BF)
        return self.decode(f_BF), f_BF, {}

    def sparsity_loss(self, x_BD, f_BF, step_frac):
        pre_BF, self._pre = self._pre, None
        l0 = _StepFn.apply(pre_BF, self.threshold.to(pre_BF.dtype), self.bandwidth).float().sum(-1).mean()
        return self.cfg.l1 * self.warmup(step_frac) * l0

    def after_step(self):
        self.threshold.data.clamp_(min=0.0)


class GatedSAE(SAE):
    """Rajamanoharan 2024 gated SAE: gate (which features) and magnitude (how much) share
    directions (W_mag = W_enc * exp(r_mag)); L1 on relu(gate) weighted by decoder norms;
    auxiliary reconstruction from relu(gate) through a frozen (detached) decoder."""
    arch = "gated"
    saelens_arch = "gated"
    feature_axes = {"W_enc": 1, "b_gate": 0, "b_mag": 0, "r_mag": 0, "W_dec": 0}
    scaled_biases = ("b_gate", "b_mag")

    def __init__(self, cfg, scale=1.0, b_dec=None):
        super().__init__(cfg, scale, b_dec)
        del self.b_enc
        self.b_gate = nn.Parameter(torch.zeros(cfg.d_sae))
        self.b_mag = nn.Parameter(torch.zeros(cfg.d_sae))
        self.r_mag = nn.Parameter(torch.zeros(cfg.d_sae))

    def _paths(self, x_BD):
        proj_BF = (x_BD - self.b_dec) @ self.W_enc
        dt = proj_BF.dtype  # keep [B, F] tensors in the matmul dtype (bf16 under autocast)
        gate_BF = proj_BF + self.b_gate.to(dt)
        mag_BF = proj_BF * torch.exp(self.r_mag).to(dt) + self.b_mag.to(dt)
        return gate_BF, mag_BF

    def pre_acts(self, x_BD):
        return self._paths(x_BD)[0]

    def encode(self, x_BD):
        gate_BF, mag_BF = self._paths(x_BD)
        return (gate_BF > 0) * torch.relu(mag_BF)

    def forward(self, x_BD):
        gate_BF, mag_BF = self._paths(x_BD)
        f_BF = (gate_BF > 0) * torch.relu(mag_BF)
        x_hat_BD = self.decode(f_BF)
        if not self.training:
            return x_hat_BD, f_BF, {}
        self._gate = torch.relu(gate_BF)  # kept for this step's sparsity loss
        via_gate = self._gate @ self.W_dec.detach() + self.b_dec.detach()
        return x_hat_BD, f_BF, {"aux": self.sq_err(x_BD, via_gate).mean()}

    def sparsity_loss(self, x_BD, f_BF, step_frac):
        gate_BF, self._gate = self._gate, None
        l1 = (gate_BF @ self.W_dec.norm(dim=1)).float().mean()
        return self.cfg.l1 * self.warmup(step_frac) * l1

    @torch.no_grad()
    def raw_tensors(self):
        out = super().raw_tensors()
        out["r_mag"] = self.r_mag.float().clone()
        return out


CLASSES = {c.arch: c for c in (ReLUSAE, TopKSAE, BatchTopKSAE, JumpReLUSAE, GatedSAE)}


def make_sae(cfg, scale=1.0, b_dec=None):
    """Build the SAE of `cfg.arch` (inputs scaled by `scale`, decoder bias `b_dec` in scaled units)."""
    if cfg.arch not in CLASSES:
        raise ValueError(f"unknown SAE architecture '{cfg.arch}'; choose one of {', '.join(ARCHS)}")
    return CLASSES[cfg.arch](cfg, scale, b_dec)

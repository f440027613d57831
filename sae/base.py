"""The interface and shared machinery of every SAE architecture (the classes are in sae/archs.py).

    encode(x_BD) -> f_BF          decode(f_BF) -> x_hat_BD       forward(x_BD) -> (x_hat_BD, f_BF)
    parts(x_BD) -> {"f", "pre", ...}               one encoder pass, with what the losses need
                                                   (TopK family: also the sparse "code", sae/archs_topk.py)
    decode_parts(parts) -> x_hat_BD                the training decode (TopK family: sparse, same result)
    loss(x_BD, step_frac) -> (total, logs, f_BF)   the training objective; logs: {"mse", "sparsity", aux terms}
    before_step() / after_step()                   decoder-norm constraints around optimizer.step()
    raw_tensors() -> {name: tensor}                SAELens tensors on raw inputs (decoder norms, scale folded)
    tensors() -> {name: tensor}                    the SAELens tensors of a folded SAE, as stored

`loss` runs its own encoder pass and keeps nothing on the module between calls, so it works
in eval mode and after any number of forward passes; in training mode it lets the SAE record
running statistics of the batch (`observe`: BatchTopK's inference threshold), which the loss
never reads. Shapes: B batch, D = d_in, F = d_sae.
"""
import torch
import torch.nn as nn


def unit_rows(w):
    return w / w.norm(dim=-1, keepdim=True).clamp_min(1e-8)


class SAE(nn.Module):
    """Shared parameters and the ReLU-style encoder; subclasses override what differs."""
    arch = None
    saelens_arch = "standard"
    has_k = False                  # sparsity set by k (the TopK family) rather than a coefficient
    # parameter name -> axis indexing features (used to resample rows/cols and reset their Adam moments)
    feature_axes = {"W_enc": 1, "b_enc": 0, "W_dec": 0}
    scaled_biases = ("b_enc",)     # biases (and thresholds) rescaled with each feature when folding
    saelens_tensors = ("W_enc", "b_enc", "W_dec", "b_dec")  # what the SAELens architecture stores
    dec_init_norm = 1.0            # decoder row norm at init

    def __init__(self, cfg, scale=1.0, b_dec=None):
        super().__init__()
        self.cfg = cfg
        g = torch.Generator().manual_seed(cfg.seed)
        W_dec_FD = unit_rows(torch.randn(cfg.d_sae, cfg.d_in, generator=g)) * self.dec_init_norm
        self.W_dec = nn.Parameter(W_dec_FD)                       # [F, D]
        self.W_enc = nn.Parameter(W_dec_FD.t().clone())           # [D, F], W_enc = W_dec^T at init
        self.b_enc = nn.Parameter(torch.zeros(cfg.d_sae))         # [F]
        self.b_dec = nn.Parameter(torch.zeros(cfg.d_in) if b_dec is None else b_dec.clone().float())  # [D]
        self.register_buffer("scale", torch.tensor(float(scale)))  # raw activations * scale = SAE inputs
        self.register_buffer("dead_F", torch.zeros(cfg.d_sae, dtype=torch.bool))  # set by the trainer (AuxK)
        self.apply_b_dec_to_input = True  # SAELens flag: the encoder reads x - b_dec (False: x itself)
        self.folded = False               # True once built by from_saelens (weights act on raw activations)
        self.warmup_frac = 0.0            # sparsity warm-up fraction; the trainer sets SAETrainConfig.l1_warmup_frac

    # --- what a loaded SAE exposes (sae.export.load_sae) ---
    @property
    def d_in(self):
        return self.cfg.d_in

    @property
    def d_sae(self):
        return self.cfg.d_sae

    @property
    def architecture(self):
        """The SAELens architecture name (standard, topk, jumprelu, gated)."""
        return self.saelens_arch

    @property
    def k(self):
        return self.cfg.k if self.has_k else None

    # --- the one encoder / decoder ---
    def sae_in(self, x_BD):
        return x_BD - self.b_dec if self.apply_b_dec_to_input else x_BD

    def pre_acts(self, x_BD):
        # addmm, not `@ W + b`: under bf16 autocast the bias joins the matmul and the [B, F]
        # result stays bf16 (a separate fp32 bias add would promote and copy the largest tensor)
        return torch.addmm(self.b_enc, self.sae_in(x_BD), self.W_enc)

    def parts(self, x_BD):
        """One encoder pass -> {"f": codes [B, F], "pre": pre-activations [B, F], ...} (what the losses need)."""
        pre_BF = self.pre_acts(x_BD)
        return {"pre": pre_BF, "f": torch.relu(pre_BF)}

    def encode(self, x_BD):
        return self.parts(x_BD)["f"]

    def decode(self, f_BF):
        return torch.addmm(self.b_dec, f_BF, self.W_dec)

    def forward(self, x_BD):
        f_BF = self.encode(x_BD)
        return self.decode(f_BF), f_BF

    # --- the training objective ---
    @staticmethod
    def sq_err(x_BD, x_hat_BD):
        return (x_hat_BD.float() - x_BD.float()).pow(2).sum(-1)  # [B]

    def decode_parts(self, parts):
        """x_hat of one encoder pass (`parts`); the TopK family decodes its sparse code instead."""
        return self.decode(parts["f"])

    def observe(self, parts, step_frac):
        """Training-mode hook: update running statistics from this batch (BatchTopK threshold)."""

    def recon_loss(self, x_BD, x_hat_BD, parts, mse):
        """The reconstruction term of the objective (Matryoshka: averaged over dictionary prefixes)."""
        return mse

    def sparsity_loss(self, parts, step_frac):
        return torch.zeros((), device=parts["f"].device)

    def aux_losses(self, x_BD, x_hat_BD, parts):
        """{name: weighted scalar} auxiliary terms of the objective (AuxK, gated's aux reconstruction)."""
        return {}

    def loss(self, x_BD, step_frac=1.0):
        p = self.parts(x_BD)
        if self.training:
            self.observe(p, step_frac)
        x_hat_BD = self.decode_parts(p)
        mse = self.sq_err(x_BD, x_hat_BD).mean()
        sparsity = self.sparsity_loss(p, step_frac)
        aux = self.aux_losses(x_BD, x_hat_BD, p)
        total = self.recon_loss(x_BD, x_hat_BD, p, mse) + sparsity + sum(aux.values())
        logs = {"mse": mse.detach(), "sparsity": sparsity.detach(), **{k: v.detach() for k, v in aux.items()}}
        return total, logs, p["f"].detach()

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

    # --- export ---
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

    def tensors(self):
        """The SAELens tensors of a folded SAE, exactly as stored (CPU, float32)."""
        return {n: getattr(self, n).detach().float().cpu().contiguous() for n in self.saelens_tensors}

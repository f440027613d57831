"""Named sweep grids: lists of SAEConfig trained together in lockstep.

    prior   the prior project's grid: relu, L1 {1..5} x features {256..4096}      (25 SAEs)
    topk    topk, k {4, 8, 16, 32, 64} x features {256..4096}                     (25 SAEs)
    archs   every architecture at three sparsities on 1024 and 2048 features      (36 SAEs)
    small   one SAE per architecture at 512 features, for the quick pipeline      (6 SAEs)

`small` aims every architecture at L0 = SMALL_L0 with < 5% dead features at inference: the TopK
family by k, jumprelu by its L0 target, relu and gated by DEFAULT_L1, set from 1500-step runs (the
pipeline's length) on the real store (runs/acts, resid.2, 512 features, batch 4096; bench/RESULTS.md).

`sae_configs(section, d_in, seed)` turns the `sae` config section into the SAEs to train:
the named grid `section.sweep`, or one SAE per size in `section.features` (SINGLE_FEATURES
when empty) of `section.arch` with `section.l1` / `section.k`.
"""
from sae.archs import DEFAULT_L1, SAEConfig

FEATURES = [256, 512, 1024, 2048, 4096]
SINGLE_FEATURES = 2048  # dictionary size of a single SAE when the section names no features
# sparsity knob per architecture for the `archs` frontier (L1 / L0 coefficient, or k), sparse -> dense
FRONTIER = {
    "relu": ("l1", [5.0, 3.0, 1.0]),
    "gated": ("l1", [14.0, 10.0, 6.0]),     # unit-norm decoder: L1 20 already collapses (L0 ~1 at 512 features)
    "jumprelu": ("k", [8, 16, 32]),         # target L0 (sae.archs.JumpReLUSAE.sparsity_loss)
    "topk": ("k", [8, 16, 32]),
    "batchtopk": ("k", [8, 16, 32]),
    "matryoshka": ("k", [8, 16, 32]),
}
SMALL_L0 = 16  # the L0 every architecture of `small` aims at
SMALL = {"relu": ("l1", DEFAULT_L1["relu"]), "topk": ("k", SMALL_L0), "batchtopk": ("k", SMALL_L0),
         "matryoshka": ("k", SMALL_L0), "jumprelu": ("k", SMALL_L0), "gated": ("l1", DEFAULT_L1["gated"])}
SWEEPS = ("prior", "topk", "archs", "small")


def sweep_configs(name, d_in, features=None, seed=0, lr=0.0):
    """SAEConfigs of sweep `name`; `features` (a list) replaces the grid's dictionary sizes."""
    def cfg(arch, d_sae, knob, value):
        return SAEConfig(arch=arch, d_in=d_in, d_sae=d_sae, seed=seed, lr=lr, **{knob: value})

    if name == "prior":
        return [cfg("relu", f, "l1", l1) for f in features or FEATURES for l1 in (1.0, 2.0, 3.0, 4.0, 5.0)]
    if name == "topk":
        return [cfg("topk", f, "k", k) for f in features or FEATURES for k in (4, 8, 16, 32, 64)]
    if name == "archs":
        return [cfg(arch, f, knob, v) for f in features or [1024, 2048]
                for arch, (knob, values) in FRONTIER.items() for v in values]
    if name == "small":
        return [cfg(arch, f, knob, v) for f in features or [512] for arch, (knob, v) in SMALL.items()]
    raise ValueError(f"unknown sweep '{name}'; choose one of {', '.join(SWEEPS)}")


def sae_configs(section, d_in, seed):
    """The SAEConfigs the `sae` section (SAETrainConfig) asks for, on activations of width `d_in`."""
    features = list(section.features) or None
    if section.sweep:
        return sweep_configs(section.sweep, d_in, features, seed, section.lr)
    return [SAEConfig(arch=section.arch, d_in=d_in, d_sae=f, l1=section.l1, k=section.k, lr=section.lr, seed=seed)
            for f in features or [SINGLE_FEATURES]]

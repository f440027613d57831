"""How big a feature is: the flags and the shared scales the page uses to keep magnitudes honest.

Density alone misleads: a feature can fire on half the positions with an activation so small
that it changes nothing (most of a gated SAE's features do), or fire once. So next to the SAE
metrics' own definition of dead we flag, on the same held-out positions:

    dead        never fires (activation > 0) on any of them: sae/metrics.py's definition of
                dead_frac, so on the same positions the counts agree
    negligible  fires, but its largest contribution to the reconstruction, max activation x
                ||decoder row||, is under NEGLIGIBLE of the stream's typical size (the RMS of
                ||x - mean x|| over the positions): it cannot move the reconstruction noticeably
    one-hit     fires on exactly one position: its statistics describe a single board
"near-dead" on the page means dead or negligible.

Policy-effect heatmaps share one colour scale per SAE (EFFECT_QUANTILE of the features' largest
|change|, so one outlier does not wash out the rest); a cell beyond it saturates, and each
feature's own range is printed beside its map. Every number here is written into the viewer
data with the text of DEFINITIONS, so the page states exactly what the generator computed.
"""
import numpy as np

NEGLIGIBLE = 0.01       # fraction of the stream's RMS size under which a feature's largest contribution is negligible
ONE_HIT = 1             # firing count flagged as one-hit
EFFECT_QUANTILE = 0.99  # the shared colour scale of an SAE's policy-effect maps: this quantile of |largest change|

DEFINITIONS = {
    "dead": "never fires (activation > 0) on any of the {positions} positions of the {split} split; the same "
            "definition as the training metrics' dead fraction (sae/metrics.py)",
    "negligible": f"fires, but its largest contribution to the reconstruction (max activation x decoder norm) is "
                  f"under {NEGLIGIBLE:g} x the stream's typical size (RMS of |x - mean| = {{stream_rms}} at {{site}})",
    "near_dead": "dead or negligible",
    "one_hit": f"fires on exactly {ONE_HIT} of the {{positions}} positions",
    "effect_scale": f"one colour scale for every feature of the SAE: the {EFFECT_QUANTILE:g} quantile of the "
                    f"features' largest |logit change| ({{effect_scale}}); larger changes saturate",
}


def feature_flags(count, max_act, W_dec, rms):
    """Per-feature 0/1 arrays {negligible, one_hit} and the largest contribution `reach` (max act x decoder norm)."""
    reach = np.asarray(max_act, np.float64) * np.linalg.norm(np.asarray(W_dec, np.float64), axis=1)
    alive = np.asarray(count) > 0
    return {"reach": reach,
            "negligible": (alive & (reach < NEGLIGIBLE * rms)).astype(int),
            "one_hit": (np.asarray(count) == ONE_HIT).astype(int)}


def effect_range(d_logit):
    """Per feature [d, 2]: the smallest and largest mean logit change over its legal moves (NaN if none)."""
    d_logit = np.asarray(d_logit, np.float64)
    some = ~np.isnan(d_logit).all(1)  # dead features (no sample) stay NaN, without nanmin's warning
    out = np.full((len(d_logit), 2), np.nan)
    out[some, 0] = np.nanmin(d_logit[some], 1)
    out[some, 1] = np.nanmax(d_logit[some], 1)
    return out


def effect_scale(d_logit):
    """The SAE's shared heatmap scale: EFFECT_QUANTILE of the per-feature largest |change| (0 if none)."""
    peak = np.abs(effect_range(d_logit)).max(1)  # NaN for features without a sample
    peak = peak[np.isfinite(peak)]
    return float(np.quantile(peak, EFFECT_QUANTILE)) if len(peak) else 0.0


def sae_summary(count, flags, positions, split, site, rms, scale):
    """The SAE's index entry fields: counts of each flag, the scales, and the definitions as stated."""
    fill = {"positions": positions, "split": split, "site": site, "stream_rms": f"{rms:.3g}",
            "effect_scale": f"{scale:.3g}"}
    dead = int((np.asarray(count) == 0).sum())
    negligible = int(np.sum(flags["negligible"]))
    return {"flags": {"dead": dead, "negligible": negligible, "near_dead": dead + negligible,
                      "one_hit": int(np.sum(flags["one_hit"]))},
            "stream_rms": rms, "effect_scale": scale,
            "definitions": {k: v.format(**fill) for k, v in DEFINITIONS.items()}}

"""KL fine-tuning: continue training an exported SAE for its downstream effect (end-to-end style).

    python -m sae.kl_finetune runs/sae/topk_f512_k16 --store runs/acts [--steps 300] [--kl-coef 1]

Reconstruction error matters where the rest of the network reads it (Braun et al. 2024, e2e SAEs):
two SAEs of equal FVU can damage the policy very differently. This stage takes a trained SAE (a
SAELens folder) and minimises, on batches of the store's train split,

    ||x - x_hat||^2 / ||x - mean_batch(x)||^2  +  kl_coef * KL(clean policy || spliced policy)

where the spliced policy runs the frozen network from the SAE's site on x_hat (run_from), both
policies renormalised over the legal moves exactly as the splice metrics do (sae.downstream). Only
SAEs whose sparsity is structural can be tuned without their sparsity penalty: topk (k fixed) and
jumprelu (also BatchTopK / Matryoshka exports; thresholds frozen). Adam, learning rate decayed
linearly to 0 over the last LR_DECAY_FRAC of the steps; the folded decoder rows stay unit norm.
The result is a new SAELens folder (default `<sae>_kl`) whose metrics.json records this
config, the source folder and the sha256 of its weights; score it with `python -m sae.evaluate`.
The run checkpoints into the output folder's parent and resumes after a kill (`--resume`).
"""
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated

import numpy as np
import torch
import tyro
from tqdm import tqdm

from alphazero.checkpoint import file_sha256, resolve_checkpoint
from othello.atomic import atomic_write
from sae.activations import ActivationStore
from sae.archs import ADAM_BETAS, project_row_grads, renormalise_rows
from sae.downstream import _kl, _legal_log_probs
from sae.export import SAELoadError, export_sae, load_metrics, load_sae
from sae.report import network_for_store

FORMAT = "othello-sae-klft/1"    # the resumable state file
TUNABLE = ("topk", "jumprelu")   # SAE classes whose sparsity does not depend on a penalty we would drop
LR_DECAY_FRAC = 0.2              # learning rate decays linearly to 0 over this final fraction of steps


@dataclass(frozen=True)
class KLFinetuneConfig:
    sae: Annotated[str, tyro.conf.Positional]  # the SAE folder to fine-tune (SAELens layout + metrics.json)
    store: str = ""              # activation store of the SAE's site; '' = the one its training run recorded
    out: str = ""                # output SAE folder; '' = <sae>_kl beside the source
    steps: int = 300             # optimizer steps
    batch_size: int = 1024       # positions per step
    lr: float = 3e-4             # Adam learning rate
    kl_coef: float = 1.0         # weight of KL(clean || spliced policy) against the normalised MSE
    seed: int = 0                # row order
    ckpt_every: int = 100        # steps between resumable checkpoints
    resume: bool = False         # continue the run checkpointed for `out`
    device: str = "cpu"          # torch device


class KLFinetuneError(ValueError):
    """An SAE that cannot be tuned this way, or a resume state that does not match."""


def loss_terms(net, sae, site, x_BD, legal_B37):
    """(normalised MSE, mean KL(clean || spliced) over the legal moves) on raw activations x_BD."""
    with torch.no_grad():
        clean = _legal_log_probs(net.run_from(site, x_BD)[0], legal_B37)
    x_hat_BD = sae(x_BD)[0]
    nmse = (x_hat_BD - x_BD).pow(2).sum() / (x_BD - x_BD.mean(0)).pow(2).sum().clamp_min(1e-12)
    spliced = _legal_log_probs(net.run_from(site, x_hat_BD)[0], legal_B37)
    return nmse, _kl(clean, spliced, legal_B37).mean()


def finetune(cfg, progress=True):
    """Run the fine-tune of `cfg` (KLFinetuneConfig); returns (the tuned SAE, its output folder, the history)."""
    src = Path(cfg.sae)
    meta = load_metrics(src)
    sae = load_sae(src, cfg.device)
    if sae.arch not in TUNABLE:
        raise KLFinetuneError(f"{src}: a {sae.architecture} SAE keeps its sparsity only through its penalty; "
                              f"KL fine-tuning supports {', '.join(TUNABLE)} (topk, batchtopk, matryoshka, jumprelu exports)")
    site = meta["site"]
    store_path = cfg.store or meta["config"].get("collect", {}).get("out", "")
    if not store_path:
        raise KLFinetuneError(f"{src}/metrics.json records no store; pass --store")
    store = ActivationStore(store_path)
    store.check(site, sae.d_in)
    net = network_for_store(store, resolve_checkpoint(store.manifest["checkpoint"]), cfg.device).requires_grad_(False)
    out = Path(cfg.out) if cfg.out else src.with_name(src.name + "_kl")
    state_path = out.with_name(f".{out.name}.klft.pt")
    train_params = {n: p for n, p in sae.named_parameters() if n != "threshold"}  # thresholds stay frozen
    for p in train_params.values():
        p.requires_grad_(True)
    sae.train()
    opt = torch.optim.Adam(train_params.values(), lr=cfg.lr, betas=ADAM_BETAS)
    step, history = 0, []
    if cfg.resume and state_path.is_file():
        st = torch.load(state_path, map_location=cfg.device, weights_only=True)
        if st.get("format") != FORMAT or st.get("config") != asdict(cfg) | {"resume": st["config"]["resume"]}:
            raise KLFinetuneError(f"cannot resume: {state_path} was written by another fine-tune (format or config differ)")
        sae.load_state_dict(st["model"])
        opt.load_state_dict(st["optimizer"])
        step, history = st["step"], st["history"]

    def save():
        data = {"format": FORMAT, "config": asdict(cfg), "model": sae.state_dict(), "optimizer": opt.state_dict(),
                "step": step, "history": history}
        atomic_write(state_path, lambda p: torch.save(data, p))

    acts, legal = store.acts(site, "train"), store.array("legal", "train")

    def batch(t):  # batch t of the train split's row stream (the SAE trainer's), rows sorted for the memmap
        r = np.sort(store.stream_rows("train", t * cfg.batch_size, cfg.batch_size, cfg.seed))
        return (torch.from_numpy(np.asarray(acts[r], np.float32)).to(cfg.device),
                torch.from_numpy(np.asarray(legal[r], bool)).to(cfg.device))

    if step == 0:  # where the source SAE starts, on the first batch
        with torch.no_grad():
            nmse, kl = loss_terms(net, sae, site, *batch(0))
        history.append({"step": 0, "nmse": round(float(nmse), 5), "kl": round(float(kl), 5)})
    bar = tqdm(total=cfg.steps, initial=step, desc="KL fine-tune", unit="step", disable=None if progress else True)
    # --- loop: one batch, normalised MSE + KL through the rest of the network, Adam, norm constraint ---
    while step < cfg.steps:
        x_BD, lg = batch(step)
        for g in opt.param_groups:
            g["lr"] = cfg.lr * min(1.0, (1.0 - step / cfg.steps) / LR_DECAY_FRAC)
        nmse, kl = loss_terms(net, sae, site, x_BD, lg)
        loss = nmse + cfg.kl_coef * kl
        if not torch.isfinite(loss):
            raise KLFinetuneError(f"non-finite loss at step {step}; try a lower --lr (now {cfg.lr:g})")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        project_row_grads(sae.W_dec)  # folded decoder rows are unit: keep them so (the folder's convention)
        opt.step()
        renormalise_rows(sae.W_dec)
        step += 1
        bar.update(1)
        if step % 25 == 0 or step == cfg.steps:
            history.append({"step": step, "nmse": round(float(nmse.detach()), 5), "kl": round(float(kl.detach()), 5)})
            bar.set_postfix(nmse=history[-1]["nmse"], kl=history[-1]["kl"])
        if cfg.ckpt_every and step % cfg.ckpt_every == 0 and step < cfg.steps:
            save()
    bar.close()
    sae.requires_grad_(False).eval()
    record = {"kl_finetune": asdict(cfg), "history": history, "source": str(src),
              "source_weights_sha256": file_sha256(src / "sae_weights.safetensors"), "source_config": meta["config"]}
    export_sae(sae, out, site, meta["checkpoint_sha256"], metrics={}, config=record)
    state_path.unlink(missing_ok=True)
    return sae, out, history


def main(argv=None):
    cfg = tyro.cli(KLFinetuneConfig, args=argv, description=__doc__.split("\n\n")[0])
    try:
        _, out, history = finetune(cfg)
    except (KLFinetuneError, SAELoadError, ValueError) as e:
        sys.exit(f"error: {e}")
    first, last = history[0], history[-1]
    print(f"KL fine-tuned SAE written to {out}: normalised MSE {first['nmse']:.4f} -> {last['nmse']:.4f}, "
          f"KL {first['kl']:.4f} -> {last['kl']:.4f} on training batches; score it with python -m sae.evaluate {out}")


if __name__ == "__main__":
    main()

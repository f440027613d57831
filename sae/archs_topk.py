"""Kernels of the TopK family (sae/archs.py): sparse codes, exact per-batch top-k, the sparse decoder.

A sparse code of a batch of B rows is a dict of flat entries sorted by row:
    row [N], idx [N] (feature), val [N] (activation, differentiable)
    rows_topk(vals_BK, idx_BK) -> code        per-row top-k (TopK, AuxK); drops entries with val <= 0
    batch_topk(pre_BF, n_keep) -> code        the n_keep largest entries of the whole batch (BatchTopK), exact
    sparse_decode(code, W_dec_FD, b_dec_D, B) -> x_hat_BD      sum over a row's entries of val * W_dec[idx] + b_dec
    prefix_decode(code, W_dec_FD, b_dec_D, B, ends_G) -> x_hat_BGD   the same by every nested prefix (Matryoshka)
    dense_codes(code, B, F) -> f_BF           the [B, F] codes (what encode() returns and the metrics read)
    with_grad(code, x_in_BD, W_enc_DF, b_enc_F) -> code   the code's values made differentiable, sparse backward

A TopK-family code has a few dozen active features per row, so decoding densely (fill a [B, F]
tensor, then a [B, F] x [F, D] matmul, forward and backward) does ~F / k times the work of
gathering the active decoder rows. embedding_bag gathers them (forward); its backward adds the
gradient into the touched W_dec rows only and gives each value's gradient as one dot product.
Entries with val <= 0 are dropped: they add nothing and, after the ReLU, get no gradient.

The encoder has the same waste in reverse: the top-k's backward fills a dense [B, F] gradient that
is zero but for the selected entries, and autograd then spends two [B, F] x [F, D]-sized matmuls on
it (for W_enc and for the input, i.e. b_dec). `with_grad` selects entries from pre-activations
computed without a graph and gives their values a backward that touches only those entries
(`_SelectedPre`): the same gradients, at ~k / F of the cost.
"""
import torch
import torch.nn.functional as F


def _positive(row_N, idx_N, val_N):
    keep = val_N > 0
    return {"row": row_N[keep], "idx": idx_N[keep], "val": val_N[keep]}


def rows_topk(vals_BK, idx_BK):
    """Sparse code of a per-row top-k (values already through the ReLU)."""
    B, K = idx_BK.shape
    row_N = torch.arange(B, device=idx_BK.device).repeat_interleave(K)
    return _positive(row_N, idx_BK.flatten(), vals_BK.flatten())


def _offsets(row_N, n_bags):
    counts = torch.bincount(row_N, minlength=n_bags)
    return counts.cumsum(0) - counts


def sparse_decode(code, W_dec_FD, b_dec_D, B):
    """x_hat_BD = sum over each row's entries of val * W_dec[idx], + b_dec (the dense decode's values and gradients)."""
    # per_sample_weights must share W_dec's dtype (under bf16 autocast the encoder's values are bf16)
    out_BD = F.embedding_bag(code["idx"], W_dec_FD, _offsets(code["row"], B),
                             per_sample_weights=code["val"].to(W_dec_FD.dtype), mode="sum")
    return out_BD + b_dec_D


def prefix_decode(code, W_dec_FD, b_dec_D, B, ends_G):
    """Reconstructions by every nested dictionary prefix [0, ends_G[g]) at once: x_hat_BGD (Matryoshka).

    One embedding_bag over the active entries, bagged by (row, group of the feature), then a
    cumulative sum over groups: the cost of one sparse decode, not one per prefix.
    """
    G = len(ends_G)
    key_N = code["row"] * G + torch.bucketize(code["idx"], ends_G, right=True)  # group g: ends[g-1] <= f < ends[g]
    key_N, perm_N = key_N.sort(stable=True)
    part_ND = F.embedding_bag(code["idx"][perm_N], W_dec_FD, _offsets(key_N, B * G),
                              per_sample_weights=code["val"][perm_N].to(W_dec_FD.dtype), mode="sum")
    return part_ND.view(B, G, -1).cumsum(1) + b_dec_D


def dense_codes(code, B, d_sae):
    """The [B, F] code tensor of a sparse code (differentiable in val)."""
    flat_N = code["row"] * d_sae + code["idx"]
    # in place into a fresh tensor: the out-of-place scatter would copy the whole [B, F] block once more
    return torch.zeros(B * d_sae, dtype=code["val"].dtype, device=code["val"].device).scatter_(
        0, flat_N, code["val"]).view(B, d_sae)


class _SelectedPre(torch.autograd.Function):
    """val_N = (x_in_BD @ W_enc_DF + b_enc_F)[row_N, idx_N], given those values (read off pre-activations
    computed without a graph); backward touches only the selected entries:
        dL/db_enc[f]   = sum of g over entries of feature f
        dL/dx_in[b]    = sum over row b's entries of g * W_enc[:, idx]     (a bag per row)
        dL/dW_enc[:, f] = sum over feature f's entries of g * x_in[row]    (a bag per feature)
    each as one embedding_bag (or index_add) instead of a dense matmul.
    """

    @staticmethod
    def forward(ctx, x_in_BD, W_enc_DF, b_enc_F, val_N, row_N, idx_N):
        ctx.save_for_backward(x_in_BD, W_enc_DF, row_N, idx_N)
        return val_N.clone()

    @staticmethod
    def backward(ctx, g_N):
        x_in_BD, W_enc_DF, row_N, idx_N = ctx.saved_tensors
        (B, D), n_feat = x_in_BD.shape, W_enc_DF.shape[1]
        g_N = g_N.to(W_enc_DF.dtype)
        g_x = g_W = g_b = None
        if ctx.needs_input_grad[0]:  # entries are sorted by row: bags are the rows
            g_x = F.embedding_bag(idx_N, W_enc_DF.t().contiguous(), _offsets(row_N, B), per_sample_weights=g_N,
                                  mode="sum").to(x_in_BD.dtype)
        if ctx.needs_input_grad[1]:  # regroup the entries by feature: bags are the features
            order_N = idx_N.argsort(stable=True)
            g_W = F.embedding_bag(row_N[order_N], x_in_BD.to(W_enc_DF.dtype), _offsets(idx_N, n_feat),
                                  per_sample_weights=g_N[order_N], mode="sum").t()
        if ctx.needs_input_grad[2]:
            g_b = torch.zeros(n_feat, dtype=W_enc_DF.dtype, device=g_N.device).index_add_(0, idx_N, g_N)
        return g_x, g_W, g_b, None, None, None


def with_grad(code, x_in_BD, W_enc_DF, b_enc_F):
    """`code` (selected from pre-activations computed without a graph) with values differentiable in the
    encoder's inputs and parameters, through the sparse backward of _SelectedPre. Unchanged when no
    gradient is wanted (evaluation, torch.no_grad)."""
    if not torch.is_grad_enabled() or not (W_enc_DF.requires_grad or x_in_BD.requires_grad):
        return code
    val_N = _SelectedPre.apply(x_in_BD, W_enc_DF, b_enc_F, code["val"].detach(), code["row"], code["idx"])
    return {**code, "val": val_N}


SAMPLE = 65_536  # entries sampled to estimate the batch top-k's threshold


def batch_topk(pre_BF, n_keep):
    """The `n_keep` largest entries of pre_BF over the whole batch (BatchTopK), exactly, without a top-k
    over all B * F entries; returns the sparse code (after the ReLU) and top_N, the n_keep selected
    values (before it: the inference threshold is estimated from them).

    A fixed random sample of SAMPLE entries estimates a threshold t a few standard errors below the
    n_keep-th largest value; the entries >= t (one comparison pass) are the candidates, and the exact
    top-n_keep is taken among them. Every entry of the true top-n_keep is >= t whenever at least n_keep
    entries are, so the result is exact; if the estimate was too high (fewer than n_keep candidates),
    t is lowered and the pass repeated. Ties at the n_keep-th value may pick a different but equally
    large set than a flat top-k.
    """
    B, F_ = pre_BF.shape
    flat = pre_BF.flatten()
    n = flat.numel()
    n_keep = min(n_keep, n)
    g = torch.Generator(device=flat.device).manual_seed(0)  # the same sample every call: deterministic
    sample = flat[torch.randint(n, (min(SAMPLE, n),), generator=g, device=flat.device)].float()
    frac = n_keep / n
    while True:
        # expected share above t: frac + 4 binomial standard errors of the sample's quantile, + 10%
        want = min(1.0, 1.1 * frac + 4 * (frac * (1 - frac) / len(sample)) ** 0.5)
        if want >= 1.0:
            cand_N = torch.arange(n, device=flat.device)
            break
        t = sample.kthvalue(max(1, int(round((1 - want) * len(sample))))).values
        cand_N = (flat >= t.to(flat.dtype)).nonzero().squeeze(1)
        if len(cand_N) >= n_keep:
            break
        frac = min(1.0, 2 * want)  # the sample misled us: widen and redo (rare)
    top_N, pick_N = flat[cand_N].topk(n_keep, sorted=False)
    pos_N = cand_N[pick_N].sort().values  # flat positions in row order
    code = _positive(pos_N // F_, pos_N % F_, torch.relu(flat[pos_N]))
    return code, top_N.detach()

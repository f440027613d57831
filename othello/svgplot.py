"""Small self-contained SVG line plots (matplotlib is not a dependency).

`line_plot(series, ...)` draws one polyline with markers per series on linear or
log10 axes, with ticks, axis labels and a legend. Used by the SAE sweep figures
(sae/plots.py) and the AlphaZero learning curve (alphazero/training.py).
"""
import math
from xml.sax.saxutils import escape

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"]
W, H, L, R, T, B = 640, 420, 70, 170, 40, 50  # canvas and margins (right margin holds the legend)


def _ticks(lo, hi, log):
    if log:
        return [10.0 ** e for e in range(math.floor(lo), math.ceil(hi) + 1) if lo - 1e-9 <= e <= hi + 1e-9] or [10 ** lo]
    step = 10 ** (math.floor(math.log10((hi - lo) or 1.0)) - 1)  # a decade below the range: 0..100 gets 20s, not 100s
    for m in (1, 2, 5, 10, 20, 50, 100):
        if (hi - lo) / (step * m) <= 6:
            step *= m
            break
    start = math.ceil(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step + 1e-9) + 1)]


def _fmt(v):
    return f"{v:g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.0e}"


def line_plot(series, title, xlabel, ylabel, logx=False, logy=False):
    """SVG text; `series` = [(label, xs, ys)]; non-positive values are dropped on log axes."""
    pts = [(lab, [(x, y) for x, y in zip(xs, ys) if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)
                  and (x > 0 or not logx) and (y > 0 or not logy)]) for lab, xs, ys in series]
    allx = [math.log10(x) if logx else x for _, p in pts for x, _ in p]
    ally = [math.log10(y) if logy else y for _, p in pts for _, y in p]
    if not allx:
        allx, ally = [0.0, 1.0], [0.0, 1.0]
    x0, x1, y0, y1 = min(allx), max(allx), min(ally), max(ally)
    padx, pady = (x1 - x0) * 0.05 or 0.5, (y1 - y0) * 0.08 or 0.5
    x0, x1, y0, y1 = x0 - padx, x1 + padx, y0 - pady, y1 + pady

    def px(x):
        return L + ((math.log10(x) if logx else x) - x0) / (x1 - x0) * (W - L - R)

    def py(y):
        return H - B - ((math.log10(y) if logy else y) - y0) / (y1 - y0) * (H - T - B)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="11">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{(W - R + L) / 2}" y="22" text-anchor="middle" font-size="14">{escape(title)}</text>',
           f'<rect x="{L}" y="{T}" width="{W - L - R}" height="{H - T - B}" fill="none" stroke="#333"/>']
    for t in _ticks(x0, x1, logx):
        x = px(t)
        out.append(f'<line x1="{x:.1f}" y1="{T}" x2="{x:.1f}" y2="{H - B}" stroke="#eee"/>'
                   f'<text x="{x:.1f}" y="{H - B + 15}" text-anchor="middle">{_fmt(t)}</text>')
    for t in _ticks(y0, y1, logy):
        y = py(t)
        out.append(f'<line x1="{L}" y1="{y:.1f}" x2="{W - R}" y2="{y:.1f}" stroke="#eee"/>'
                   f'<text x="{L - 5}" y="{y + 4:.1f}" text-anchor="end">{_fmt(t)}</text>')
    out.append(f'<text x="{(W - R + L) / 2}" y="{H - 12}" text-anchor="middle">{escape(xlabel)}{" (log)" if logx else ""}</text>')
    out.append(f'<text transform="translate(16,{(H - B + T) / 2}) rotate(-90)" text-anchor="middle">'
               f'{escape(ylabel)}{" (log)" if logy else ""}</text>')
    for i, (lab, p) in enumerate(pts):
        c = COLORS[i % len(COLORS)]
        p = sorted(p)
        if len(p) > 1:
            out.append(f'<polyline fill="none" stroke="{c}" stroke-width="1.8" points="'
                       + " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in p) + '"/>')
        out += [f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{c}"/>' for x, y in p]
        ly = T + 10 + i * 16
        out.append(f'<line x1="{W - R + 10}" y1="{ly}" x2="{W - R + 28}" y2="{ly}" stroke="{c}" stroke-width="2"/>'
                   f'<text x="{W - R + 32}" y="{ly + 4}">{escape(str(lab))}</text>')
    out.append("</svg>")
    return "\n".join(out)

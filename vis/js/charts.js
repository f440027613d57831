// Charts as inline SVG: activation histogram, policy-effect heatmap, scaling plots.

import { CELL, MARGIN, SIDE, boardFrame } from "./board.js";
import { moveName } from "./data.js";
import { el, fmt, signed, svg } from "./dom.js";

// ------------------------------------------------------------ histogram
// Counts of the feature's activations where it fires, in log-spaced bins from lo to hi.
export function histogram(h, count, nPositions) {
  const W = 320, H = 160, L = 34, B = 32, T = 8, R = 8;
  const n = h.counts.length;
  const top = Math.max(...h.counts, 1);
  const bw = (W - L - R) / n;
  const g = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": "activation histogram" });
  g.append(svg("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, class: "axis" }));
  h.counts.forEach((c, i) => {
    const bh = ((H - B - T) * c) / top;
    const a = h.lo * Math.pow(h.hi / h.lo, i / n), b = h.lo * Math.pow(h.hi / h.lo, (i + 1) / n);
    g.append(svg("rect", { x: L + i * bw + 0.5, y: H - B - bh, width: Math.max(bw - 1, 1), height: bh, class: "bar" },
      [svg("title", { text: `${fmt(a)} – ${fmt(b)}: ${c} positions` })]));
  });
  g.append(svg("text", { x: L - 4, y: T + 8, class: "tick end", text: String(top) }));
  g.append(svg("text", { x: L - 4, y: H - B, class: "tick end", text: "0" }));
  for (const [x, text, anchor] of axisTicks(h.lo, h.hi, L, W - R)) g.append(svg("text", { x, y: H - B + 13, class: `tick ${anchor}`, text }));
  g.append(svg("text", { x: (L + W - R) / 2, y: H - 2, class: "label", text: "activation (log scale)" }));
  return el("div", {}, [g, el("p", { class: "note",
    text: `${count} of ${nPositions} positions fire (${fmt((100 * count) / nPositions, 3)}%); lowest bin also holds values below ${fmt(h.lo, 2)}.` })]);
}

// Labels for the ends and the (log) middle of the histogram's axis, with just enough digits to differ:
// a feature whose activations all lie within 1% of each other gets "2.213 2.218 2.224", not "2.2 2.2 2.2",
// and one whose lowest and highest activation are equal gets a single label.
function axisTicks(lo, hi, x0, x1) {
  const mid = Math.sqrt(lo * hi);
  for (let digits = 2; digits <= 6; digits++) {
    const t = [fmt(lo, digits), fmt(mid, digits), fmt(hi, digits)];
    if (new Set(t).size === 3) return [[x0, t[0], "start"], [(x0 + x1) / 2, t[1], "middle"], [x1, t[2], "end"]];
  }
  return [[(x0 + x1) / 2, `all ≈ ${fmt(hi, 3)}`, "middle"]];
}

// ------------------------------------------------------------ diverging colour scale
function mix(a, b, t) { return a.map((v, i) => Math.round(v + (b[i] - v) * t)); }
const WHITE = [247, 247, 247], POS = [202, 72, 24], NEG = [33, 102, 172];

export function diverging(v, m) {
  const t = m > 0 ? Math.max(-1, Math.min(1, v / m)) : 0;
  const c = t >= 0 ? mix(WHITE, POS, t) : mix(WHITE, NEG, -t);
  return `rgb(${c.join(",")})`;
}

// ------------------------------------------------------------ policy effect heatmap
// effect.logit[a]: mean change of move a's logit (centred over legal moves), null if a was never legal;
// effect.logit_se[a]: its standard error. `scale`: the colour scale's end (the SAE's shared scale, or
// this feature's own largest change); cells beyond it saturate. A cell whose 95% interval
// (± 1.96 SE) includes zero is drawn faded: the sample cannot tell its sign.
export function effectHeatmap(effect, scale) {
  const vals = effect.logit.filter((v) => v !== null);
  const own = Math.max(...vals.map(Math.abs), 1e-9);
  const m = scale > 0 ? scale : own;
  // short cell labels with about two significant digits of the scale: "1.5", ".07", "-.006";
  // a value that rounds to zero gets no label (its exact value is in the tooltip)
  const decimals = Math.max(0, Math.min(3, 1 - Math.floor(Math.log10(m))));
  const textFor = (v) => {
    const t = v.toFixed(decimals).replace(/^(-?)0\./, "$1.");
    return /^-?[.0]*$/.test(t) ? "" : t;
  };
  const cell = (g, a, x, y, w, h) => {
    const v = effect.logit[a], se = effect.logit_se?.[a];
    const ci = se === null || se === undefined ? null : 1.96 * se;
    const weak = v !== null && ci !== null && Math.abs(v) < ci;
    const dark = v !== null && Math.abs(v) / m > 0.55 && !weak;
    const tip = v === null ? `${moveName(a)}: never legal in the sample`
      : `${moveName(a)}: ${signed(v)} logit` + (ci !== null ? ` ± ${fmt(ci, 2)} (95% interval)${weak ? ", includes 0" : ""}` : " (one position: no interval)") +
        (Math.abs(v) > m ? " — beyond the colour scale" : "");
    g.append(svg("rect", { x, y, width: w, height: h, class: v === null ? "heat na" : weak ? "heat weak" : "heat",
      fill: v === null ? undefined : diverging(v, m) }, [svg("title", { text: tip })]));
    if (v !== null) g.append(svg("text", { x: x + w / 2, y: y + h / 2 + 2.3, class: `heat-num${dark ? " light" : ""}`, text: textFor(v) }));
  };
  const g = boardFrame((g, r, c, x, y) => cell(g, r * 6 + c, x, y, CELL, CELL), { class: "board heatmap", label: "policy effect" });
  const H = SIDE + CELL + 4;
  g.setAttribute("viewBox", `0 0 ${SIDE} ${H}`);
  g.append(svg("text", { x: MARGIN + 2 * CELL - 4, y: SIDE + CELL / 2 + 4, class: "coord end", text: "pass" }));
  cell(g, 36, MARGIN + 2 * CELL, SIDE + 2, 2 * CELL, CELL - 2);

  const legend = el("div", { class: "scale" }, [
    el("span", { text: `−${fmt(m, 2)}` }),
    el("span", { class: "scale-bar", style: `background:linear-gradient(90deg, ${diverging(-m, m)}, ${diverging(0, m)}, ${diverging(m, m)})` }),
    el("span", { text: `+${fmt(m, 2)}` }),
  ]);
  return el("div", { class: "effect" }, [g, legend,
    el("div", { class: "scale-labels" }, [el("span", { text: "suppressed" }), el("span", { text: "promoted" })])]);
}

// ------------------------------------------------------------ scaling plots
const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];

export function colourFor(keys) {
  const m = new Map([...new Set(keys)].sort().map((k, i) => [k, PALETTE[i % PALETTE.length]]));
  return (k) => m.get(k);
}

function niceTicks(lo, hi, log) {
  if (log) {
    const out = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
      for (const f of [1, 2, 5]) { const v = f * 10 ** e; if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v); }
    }
    return out.length >= 2 ? out : [lo, hi];
  }
  const step = 10 ** Math.floor(Math.log10((hi - lo) / 4 || 1));
  const s = [1, 2, 5, 10].map((f) => f * step).find((st) => (hi - lo) / st <= 5) || step * 10;
  const out = [];
  for (let v = Math.ceil(lo / s) * s; v <= hi + 1e-12; v += s) out.push(Number(v.toPrecision(6)));
  return out;
}

// rows: [{x, y, series, colourKey, label}]; lines join the points of one series in x order.
// A row's optional `tag` is written beside its point.
export function scatterPlot(rows, { title, xlabel, ylabel, xlog, ylog, xticks, colour }) {
  const W = 380, H = 250, L = 48, B = 38, T = 24, R = 12;
  const pts = rows.filter((r) => Number.isFinite(r.x) && Number.isFinite(r.y) && (!xlog || r.x > 0) && (!ylog || r.y > 0));
  const g = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart plot", role: "img", "aria-label": title });
  g.append(svg("text", { x: W / 2, y: 14, class: "title", text: title }));
  if (!pts.length) {
    g.append(svg("text", { x: W / 2, y: H / 2, class: "label", text: "no data" }));
    return g;
  }
  const ext = (k, log) => {
    let lo = Math.min(...pts.map((p) => p[k])), hi = Math.max(...pts.map((p) => p[k]));
    if (lo === hi) { lo = log ? lo / 2 : lo - 1; hi = log ? hi * 2 : hi + 1; }
    if (!log) { const pad = (hi - lo) * 0.08; lo = Math.max(0, lo - pad); hi += pad; } else { lo /= 1.25; hi *= 1.25; }
    return [lo, hi];
  };
  const [x0, x1] = ext("x", xlog), [y0, y1] = ext("y", ylog);
  const f = (v, a, b, log) => (log ? Math.log(v / a) / Math.log(b / a) : (v - a) / (b - a));
  const X = (v) => L + f(v, x0, x1, xlog) * (W - L - R);
  const Y = (v) => H - B - f(v, y0, y1, ylog) * (H - B - T);
  g.append(svg("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, class: "axis" }));
  g.append(svg("line", { x1: L, x2: L, y1: T, y2: H - B, class: "axis" }));
  for (const v of (xticks || niceTicks(x0, x1, xlog)).filter((v) => v >= x0 && v <= x1)) {
    g.append(svg("line", { x1: X(v), x2: X(v), y1: T, y2: H - B, class: "grid" }));
    g.append(svg("text", { x: X(v), y: H - B + 13, class: "tick middle", text: fmt(v, 3) }));
  }
  for (const v of niceTicks(y0, y1, ylog)) {
    g.append(svg("line", { x1: L, x2: W - R, y1: Y(v), y2: Y(v), class: "grid" }));
    g.append(svg("text", { x: L - 4, y: Y(v) + 3, class: "tick end", text: fmt(v, 3) }));
  }
  g.append(svg("text", { x: (L + W - R) / 2, y: H - 6, class: "label", text: xlabel }));
  g.append(svg("text", { x: 12, y: (T + H - B) / 2, class: "label", transform: `rotate(-90 12 ${(T + H - B) / 2})`, text: ylabel }));
  const R_PT = 3.6;
  const at = dodge(pts.map((p) => [X(p.x), Y(p.y)]), 2 * R_PT + 1);
  pts.forEach((p, i) => { p.px = at[i][0]; p.py = at[i][1]; });
  const series = new Map();
  for (const p of pts) series.set(p.series, [...(series.get(p.series) || []), p]);
  for (const s of series.values()) {
    if (s.length < 2) continue;
    s.sort((a, b) => a.x - b.x);
    g.append(svg("polyline", { points: s.map((p) => `${p.px},${p.py}`).join(" "), class: "series",
      stroke: colour(s[0].colourKey) }));
  }
  for (const p of pts) {
    g.append(svg("circle", { cx: p.px, cy: p.py, r: R_PT, fill: colour(p.colourKey), class: "point" },
      [svg("title", { text: `${p.label}\n${xlabel}: ${fmt(p.x)}\n${ylabel}: ${fmt(p.y)}` })]));
    if (p.tag) g.append(svg("text", { x: p.px + 5, y: p.py - 4, class: "tick start", text: p.tag }));
  }
  return g;
}

// Pixel positions [[x, y]...] with points closer than `gap` (same SAE size and nearly the same L0,
// say) spread sideways around their centre, so every point can be seen and hovered.
function dodge(xy, gap) {
  const out = xy.map(([x, y]) => [x, y]);
  const done = new Set();
  for (let i = 0; i < xy.length; i++) {
    if (done.has(i)) continue;
    const group = [i];
    for (let k = 0; k < group.length; k++) { // everything within `gap` of anything in the group
      for (let j = 0; j < xy.length; j++) {
        if (!done.has(j) && !group.includes(j) && Math.hypot(xy[j][0] - xy[group[k]][0], xy[j][1] - xy[group[k]][1]) < gap) group.push(j);
      }
    }
    group.forEach((j) => done.add(j));
    if (group.length < 2) continue;
    group.sort((a, b) => xy[a][1] - xy[b][1] || a - b);
    const cx = group.reduce((t, j) => t + xy[j][0], 0) / group.length;
    group.forEach((j, r) => { out[j][0] = cx + (r - (group.length - 1) / 2) * gap; });
  }
  return out;
}

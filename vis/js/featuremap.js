// The feature map: every feature of an SAE as a dot at its decoder direction's 2-D coordinates
// (features.json map_x / map_y; the method is the SAE's index `map.method`), coloured by density
// or by the concept its label (auto-interp rule) tests first; the feature shown is ringed; a click opens the nearest.
// A canvas, not SVG: 16k dots redraw in a few ms on every feature switch.

import { el, fmt, pct } from "./dom.js";

const SIZE = 260, PAD = 8;
let colourBy = "density"; // kept across features of the page
const PALETTE = ["#1b6e4a", "#b3261e", "#2166ac", "#ff9f1c", "#8c564b", "#e377c2", "#17becf"];
const OTHER = "#5b4bb7", NONE = "#d5d9de";
const root = (label) => label.replace(/^[(]/, "").replace(/^not /, "").split(/\s+/)[0]; // the rule's first concept, e.g. "legal"

// The most common first concepts of the SAE's labels, each with a colour (the rest share OTHER)
function labelKinds(labels) {
  const n = new Map();
  for (const l of labels) if (l) n.set(root(l), (n.get(root(l)) || 0) + 1);
  return new Map([...n].sort((a, b) => b[1] - a[1]).slice(0, PALETTE.length).map(([k], i) => [k, PALETTE[i]]));
}

function densityColour(d) { // log scale 1e-5 .. 1: pale to dark green
  const t = d > 0 ? Math.max(0, Math.min(1, (Math.log10(d) + 5) / 5)) : 0;
  const c = [220, 236, 227].map((v, i) => Math.round(v + ([16, 72, 46][i] - v) * t));
  return `rgb(${c.join(",")})`;
}

function labelColour(kinds, label) {
  if (!label) return NONE;
  return kinds.get(root(label)) || OTHER;
}

export function mapCard(sae, summary, id, go) {
  const canvas = el("canvas", { width: SIZE * 2, height: SIZE * 2, class: "feature-map", style: `width:${SIZE}px;height:${SIZE}px`,
    "aria-label": "feature map" });
  const labelled = summary.label.some((l) => l !== null);
  const kinds = labelKinds(summary.label);
  if (!labelled) colourBy = "density";
  const pos = (i) => [PAD + summary.map_x[i] * (SIZE - 2 * PAD), PAD + (1 - summary.map_y[i]) * (SIZE - 2 * PAD)];
  function draw() {
    const g = canvas.getContext("2d");
    g.setTransform(2, 0, 0, 2, 0, 0); // sharp on high-density screens
    g.clearRect(0, 0, SIZE, SIZE);
    for (let i = 0; i < summary.n; i++) {
      const [x, y] = pos(i);
      g.globalAlpha = summary.dead[i] ? 0.25 : 0.85;
      g.fillStyle = colourBy === "label" ? labelColour(kinds, summary.label[i]) : densityColour(summary.density[i]);
      g.beginPath();
      g.arc(x, y, 2.2, 0, 2 * Math.PI);
      g.fill();
    }
    const [x, y] = pos(id);
    g.globalAlpha = 1;
    g.strokeStyle = "#ff9f1c";
    g.lineWidth = 2;
    g.beginPath();
    g.arc(x, y, 6, 0, 2 * Math.PI);
    g.stroke();
  }
  function nearest(ev) {
    const r = canvas.getBoundingClientRect(), mx = ev.clientX - r.left, my = ev.clientY - r.top;
    let best = -1, bd = 36; // within 6 px
    for (let i = 0; i < summary.n; i++) {
      const [x, y] = pos(i), d = (x - mx) ** 2 + (y - my) ** 2;
      if (d < bd) { bd = d; best = i; }
    }
    return best;
  }
  canvas.addEventListener("click", (ev) => { const i = nearest(ev); if (i >= 0) go(i); });
  canvas.addEventListener("mousemove", (ev) => {
    const i = nearest(ev);
    canvas.title = i < 0 ? "" : `#${i}: density ${pct(summary.density[i])}` + (summary.label[i] ? ` · ${summary.label[i]} (F1 ${fmt(summary.label_f1[i], 2)})` : "");
    canvas.style.cursor = i < 0 ? "default" : "pointer";
  });
  const sel = el("select", { "aria-label": "colour the map by", onchange: () => { colourBy = sel.value; draw(); legend(); } },
    [["density", "colour: density"], ...(labelled ? [["label", "colour: label's concept"]] : [])].map(([v, t]) =>
      el("option", { value: v, text: t, selected: v === colourBy })));
  const key = el("div", { class: "map-key" });
  function legend() {
    key.replaceChildren(...(colourBy === "label"
      ? [...kinds, ["other label", OTHER], ["no label", NONE]].map(([k, c]) => el("span", {}, [el("i", { style: `background:${c}` }), k]))
      : [el("span", { text: "density: pale 1e-5 … dark 1 (log); faded = dead" })]));
  }
  draw();
  legend();
  const ex = sae.map.explained;
  return el("section", { class: "card map-card" }, [
    el("h3", {}, ["Feature map ", sel]), canvas, key,
    el("p", { class: "note", text: `${sae.map.method}; they explain ${pct(ex[0])} and ${pct(ex[1])} of the directions' variance, so ` +
      "nearby dots share much of their direction only where that is high. Click a dot to open it." }),
  ]);
}

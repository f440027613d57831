// Tiny DOM helpers: build elements and SVG without a framework (and without innerHTML on data).

const SVG_NS = "http://www.w3.org/2000/svg";

function build(node, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of [].concat(children || [])) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

// el("div", {class: "x", onclick: fn}, [children...])
export function el(tag, attrs, children) {
  return build(document.createElement(tag), attrs, children);
}

export function svg(tag, attrs, children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

// A number for people: 3 significant digits, no exponent for ordinary ranges.
export function fmt(x, digits = 3) {
  if (x === null || x === undefined || Number.isNaN(x)) return "–";
  if (x === 0) return "0";
  if (Number.isInteger(x) && Math.abs(x) < 1e7) return String(x); // feature counts: 1024, not 1020
  const a = Math.abs(x);
  if (a >= 1e4 || a < 1e-3) return x.toExponential(digits - 1);
  return Number(x.toPrecision(digits)).toString();
}

export function pct(x, digits = 2) {
  if (x === null || x === undefined) return "–";
  if (x === 0) return "0%";
  const p = x * 100;
  return (p < 0.01 ? p.toExponential(1) : Number(p.toPrecision(digits)).toString()) + "%";
}

export function signed(x, digits = 3) {
  if (x === null || x === undefined) return "–";
  return (x > 0 ? "+" : "") + fmt(x, digits);
}

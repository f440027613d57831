// 6x6 boards as inline SVG, always from the MOVER's side (as the network sees them):
// dark discs = the side to move, light discs = the opponent, whichever colour each really is.
// Dots mark legal moves; the orange ring marks the move the network plays (argmax of its
// policy over legal moves). The caption says who really moves (Black = first player).

import { COLS, moveName } from "./data.js";
import { el, fmt, svg } from "./dom.js";

export const CELL = 20;
export const MARGIN = 13; // room for the a-f / 1-6 labels
export const SIDE = MARGIN + 6 * CELL + 2;

// The frame shared by boards and heatmaps: coordinates, grid lines, and cell(r, c, x, y) for contents.
export function boardFrame(cell, opts = {}) {
  const g = svg("svg", { viewBox: `0 0 ${SIDE} ${SIDE}`, class: opts.class || "board", role: "img",
    "aria-label": opts.label || "board" });
  for (let i = 0; i < 6; i++) {
    g.append(svg("text", { x: MARGIN + i * CELL + CELL / 2, y: 9, class: "coord", text: COLS[i] }));
    g.append(svg("text", { x: 5, y: MARGIN + i * CELL + CELL / 2 + 3, class: "coord", text: String(i + 1) }));
  }
  for (let r = 0; r < 6; r++) {
    for (let c = 0; c < 6; c++) cell(g, r, c, MARGIN + c * CELL, MARGIN + r * CELL);
  }
  return g;
}

export function drawBoard(b) {
  return boardFrame((g, r, c, x, y) => {
    const a = r * 6 + c;
    const v = b.cells[a];
    const tip = [moveName(a)];
    g.append(svg("rect", { x, y, width: CELL, height: CELL, class: "sq" }));
    if (v !== 0) {
      g.append(svg("circle", { cx: x + CELL / 2, cy: y + CELL / 2, r: CELL / 2 - 2.2, class: v > 0 ? "disc-me" : "disc-opp" }));
      tip.push(v > 0 ? "mover's disc" : "opponent's disc");
    } else if (a === b.move) {
      g.append(svg("circle", { cx: x + CELL / 2, cy: y + CELL / 2, r: CELL / 2 - 3.5, class: "net-move" }));
      tip.push("network's move");
    } else if (b.legal[a]) {
      g.append(svg("circle", { cx: x + CELL / 2, cy: y + CELL / 2, r: 2.6, class: "legal" }));
      tip.push("legal");
    }
    g.lastChild.append(svg("title", { text: tip.join(": ") }));
  }, { label: `board at ply ${b.ply}` });
}

// A board with its activation (bar relative to the feature's max) and a caption.
export function boardCard(b, act, maxAct, onClick) {
  const width = maxAct > 0 ? Math.max(2, Math.min(100, (100 * act) / maxAct)) : 0;
  const who = b.moverBlack ? "Black" : "White";
  const net = b.move === 36 ? "net passes" : `net ${moveName(b.move)} ${Math.round(b.prob * 100)}%`;
  return el("figure", { class: `board-card${onClick ? " clickable" : ""}`, title: `value for the mover ${fmt(b.value, 2)}${onClick ? " · click: open in the board lab" : ""}`, onclick: onClick }, [
    el("div", { class: "act" }, [
      el("span", { class: "act-bar", style: `width:${width}%` }),
      el("span", { class: "act-num", text: fmt(act, 3) }),
    ]),
    drawBoard(b),
    el("figcaption", {}, [
      el("span", { class: `who ${b.moverBlack ? "black" : "white"}`, title: `${who} (the ${b.moverBlack ? "first" : "second"} player) is to move` }),
      `${who} · ply ${b.ply} · `, el("b", { text: net }),
    ]),
  ]);
}

// The legend shown once above the boards.
export function boardLegend() {
  const item = (cls, text, r) => el("span", { class: "legend-item" }, [
    svg("svg", { viewBox: "0 0 20 20", class: "legend-swatch" }, [
      svg("rect", { x: 0, y: 0, width: 20, height: 20, class: "sq" }),
      svg("circle", { cx: 10, cy: 10, r, class: cls }),
    ]), text,
  ]);
  return el("div", { class: "legend" }, [
    item("disc-me", "side to move", 7.8), item("disc-opp", "opponent", 7.8),
    item("legal", "legal move", 2.6), item("net-move", "network's move", 6.5),
    el("span", { class: "legend-note", text: "Boards are drawn from the mover's side, as the network sees them. Bar = activation relative to this feature's max." }),
  ]);
}

// 6x6 Othello rules for the board lab (the same rules as othello/game.py). Boards here are in real
// colours: cells[a] = +1 Black (the first player), -1 White, 0 empty; a = row * 6 + col (a1 = 0),
// action 36 = pass (legal only when no square is). The network sees cells * player (mover = +1).

export const PASS = 36;
const DIRS = [[0, 1], [0, -1], [1, 0], [-1, 0], [1, 1], [1, -1], [-1, 1], [-1, -1]];

export function start() { // Black owns d3 and c4, White c3 and d4 (othello/game.py initial)
  const c = new Int8Array(36);
  c[15] = c[20] = 1;
  c[14] = c[21] = -1;
  return c;
}

// discs `player` would flip by playing square a (empty list: illegal)
export function flips(cells, player, a) {
  if (cells[a] !== 0) return [];
  const r0 = Math.floor(a / 6), c0 = a % 6, out = [];
  for (const [dr, dc] of DIRS) {
    const line = [];
    let r = r0 + dr, c = c0 + dc;
    while (r >= 0 && r < 6 && c >= 0 && c < 6 && cells[r * 6 + c] === -player) { line.push(r * 6 + c); r += dr; c += dc; }
    if (line.length && r >= 0 && r < 6 && c >= 0 && c < 6 && cells[r * 6 + c] === player) out.push(...line);
  }
  return out;
}

// bool[37]: the actions legal for `player`
export function legal(cells, player) {
  const m = new Array(37).fill(false);
  let any = false;
  for (let a = 0; a < 36; a++) if (flips(cells, player, a).length) m[a] = any = true;
  m[PASS] = !any;
  return m;
}

// the board after `player` plays action a (assumed legal)
export function play(cells, player, a) {
  const next = Int8Array.from(cells);
  if (a === PASS) return next;
  next[a] = player;
  for (const s of flips(cells, player, a)) next[s] = player;
  return next;
}

export function gameOver(cells) {
  return legal(cells, 1)[PASS] && legal(cells, -1)[PASS];
}

export function count(cells) {
  let black = 0, white = 0;
  for (const v of cells) { if (v > 0) black++; else if (v < 0) white++; }
  return { black, white };
}

// Link text of a position: 36 of "x" (Black) / "o" (White) / "-" then the side to move ("x" or "o")
export function encode(cells, player) {
  return Array.from(cells, (v) => (v > 0 ? "x" : v < 0 ? "o" : "-")).join("") + (player > 0 ? "x" : "o");
}

export function decode(text) { // -> {cells, player} or null when the text is not a position
  if (typeof text !== "string" || !/^[xo-]{36}[xo]$/.test(text)) return null;
  return { cells: Int8Array.from(text.slice(0, 36), (ch) => (ch === "x" ? 1 : ch === "o" ? -1 : 0)), player: text[36] === "x" ? 1 : -1 };
}

// a stored board (data.getBoard: mover-relative cells, moverBlack) in real colours
export function fromRecord(b) {
  const player = b.moverBlack ? 1 : -1;
  return { cells: Int8Array.from(b.cells, (v) => v * player), player };
}

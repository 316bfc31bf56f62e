// Draws an asset's lineage (GET /api/v1/audit/assets/{asset}/{token_id}/lineage, or an EPD's:
// GET /api/v1/audit/epds/{epd_id}/lineage) as SVG, with no library:
// nodes in layers left to right by time (each node one layer to the right of the node it first received units
// from), one edge per hop labelled with its kind and amount and linked to its transaction.

const SVG = "http://www.w3.org/2000/svg";
const NODE_W = 170;
const NODE_H = 46;
const LAYER_GAP = 250;
const ROW_GAP = 80;
const MARGIN = 30;

function el(name, attributes = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Each node's layer and row: layers from the hops in chain order, rows in order of first appearance. */
export function layout(lineage) {
  const layer = new Map();
  const firstSeen = new Map(lineage.nodes.map((n, i) => [n.id, i]));
  for (const edge of lineage.edges) {
    if (!layer.has(edge.source)) layer.set(edge.source, 0);
    if (!layer.has(edge.target)) layer.set(edge.target, layer.get(edge.source) + 1);
  }
  for (const n of lineage.nodes) if (!layer.has(n.id)) layer.set(n.id, 0);
  const rows = new Map();
  const place = new Map();
  const ordered = [...lineage.nodes].sort((a, b) => layer.get(a.id) - layer.get(b.id)
    || a.first_block - b.first_block || firstSeen.get(a.id) - firstSeen.get(b.id));
  for (const n of ordered) {
    const l = layer.get(n.id);
    const row = rows.get(l) || 0;
    rows.set(l, row + 1);
    place.set(n.id, { layer: l, row, x: MARGIN + l * LAYER_GAP, y: MARGIN + row * ROW_GAP });
  }
  const width = MARGIN * 2 + (Math.max(0, ...[...place.values()].map((p) => p.layer)) * LAYER_GAP) + NODE_W;
  const height = MARGIN * 2 + (Math.max(0, ...rows.values()) - 1) * ROW_GAP + NODE_H;
  return { place, width, height };
}

function edgePath(from, to, bend) {
  const x1 = from.x + NODE_W;
  const y1 = from.y + NODE_H / 2;
  const x2 = to.x;
  const y2 = to.y + NODE_H / 2;
  if (x2 > x1) {
    const mid = (x1 + x2) / 2;
    return { d: `M${x1},${y1} C${mid},${y1 + bend} ${mid},${y2 + bend} ${x2},${y2}`, lx: mid, ly: (y1 + y2) / 2 + bend };
  }
  // Back to a layer on the left (e.g. a delisting from the escrow): loop below both nodes.
  const low = Math.max(from.y, to.y) + NODE_H + 30 + Math.abs(bend);
  return { d: `M${x1},${y1} C${x1 + 80},${low} ${x2 - 80},${low} ${x2},${y2}`, lx: (x1 + x2) / 2, ly: low - 8 };
}

function amountText(edge, unit) {
  if (edge.amount === null || edge.amount === undefined) return edge.kind; // an EPD's step moves no units
  return `${edge.kind} ${Number(edge.amount).toLocaleString()}${unit ? " " + unit : ""}`;
}

/**
 * Render `lineage` into `container` (its content replaced) and return the <svg>. Options: `txUrl(hash)` gives
 * the link of an edge's transaction (default `#tx-<hash>`), `unit` the unit shown with amounts.
 */
export function renderLineage(container, lineage, { txUrl = (hash) => `#tx-${hash}`, unit = "" } = {}) {
  const { place, width, height } = layout(lineage);
  const subject = lineage.asset ? `${lineage.asset} ${lineage.token_id}` : `EPD ${lineage.epd_id}`;
  const svg = el("svg", { xmlns: SVG, width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
    class: "lineage", "aria-label": `${subject}: ${lineage.nodes.length} nodes, ${lineage.edges.length} hops` });
  svg.append(el("title", {}, `Lineage of ${subject}`));
  const defs = el("defs");
  const marker = el("marker", { id: "lineage-arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7,
    markerHeight: 7, orient: "auto-start-reverse" });
  marker.append(el("path", { d: "M0,0 L10,5 L0,10 z", fill: "#555" }));
  defs.append(marker);
  svg.append(defs);

  const edges = el("g", { class: "edges" });
  const seen = new Map();
  for (const edge of lineage.edges) {
    const from = place.get(edge.source);
    const to = place.get(edge.target);
    if (!from || !to) continue;
    const key = `${edge.source}>${edge.target}`;
    const nth = seen.get(key) || 0;
    seen.set(key, nth + 1);
    const bend = (nth % 2 ? -1 : 1) * Math.ceil(nth / 2) * 18; // parallel hops fan out
    const { d, lx, ly } = edgePath(from, to, bend);
    const g = el("g", { class: `edge edge-${edge.kind}`, "data-edge": edge.id });
    g.append(el("path", { d, fill: "none", stroke: "#555", "stroke-width": 1.5, "marker-end": "url(#lineage-arrow)" }));
    const link = el("a", { href: txUrl(edge.at.tx_hash), class: "tx" });
    link.append(el("title", {}, `${amountText(edge, unit)} in transaction ${edge.at.tx_hash}, block ` +
      `${edge.at.block_number}, ${edge.at.block_time}`));
    link.append(el("text", { x: lx, y: ly - 4, "text-anchor": "middle", "font-size": 11, fill: "#1a4f8b" },
      amountText(edge, unit)));
    g.append(link);
    edges.append(g);
  }
  const nodes = el("g", { class: "nodes" });
  for (const n of lineage.nodes) {
    const p = place.get(n.id);
    const g = el("g", { class: `node node-${n.kind}`, "data-node": n.id, transform: `translate(${p.x},${p.y})` });
    const sink = !["account", "escrow", "allocation", "issuance"].includes(n.kind);
    g.append(el("rect", { width: NODE_W, height: NODE_H, rx: sink ? 23 : 6,
      fill: n.kind === "account" ? "#eef4fb" : n.kind === "escrow" ? "#fff6e0" : sink ? "#f3f3f3" : "#e8f6ec",
      stroke: "#333" }));
    g.append(el("title", {}, `${n.label}${n.address ? " " + n.address : ""}; first in block ${n.first_block}`));
    g.append(el("text", { x: 8, y: 18, "font-size": 12, fill: "#111" }, n.label.length > 26
      ? n.label.slice(0, 25) + "…" : n.label));
    const below = n.holding !== null && n.holding !== undefined ? `${n.kind}, holds ${n.holding}` : n.kind;
    g.append(el("text", { x: 8, y: 36, "font-size": 11, fill: "#444" }, below));
    nodes.append(g);
  }
  svg.append(edges, nodes);
  container.replaceChildren(svg);
  return svg;
}

// The lineage page: the graph drawn by lineage.js from the page's JSON block (script#lineage-data, not executed),
// each hop's label linked to its row in the table of hops below (the table holds the same hops for everyone).
import { renderLineage } from "./lineage.js";

function start() {
  const block = document.getElementById("lineage-data");
  const container = document.getElementById("lineage-graph");
  if (!block || !container) return;
  const svg = renderLineage(container, JSON.parse(block.textContent), {
    txUrl: (hash) => `#tx-${hash}`, unit: container.dataset.unit || "" });
  svg.setAttribute("aria-label", container.dataset.label); // the page's language, not the drawing module's
  svg.querySelector("title").textContent = container.dataset.label;
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();

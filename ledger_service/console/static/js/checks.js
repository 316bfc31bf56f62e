// The in-browser proof check of the reading and report trace pages (form#browser-check): each proof on the page
// is checked by proof.js, here, with Web Crypto's SHA-256, and by one eth_call of MeterAnchor.verifyReading on the
// node the user chose; every check's result says where it ran. The page's labels come from the form's data-*
// attributes (the message catalogues); a check's detail is proof.js's own technical text (English).
//
// A proof comes from the page, never from a script argument: `data-proof-url` (the console's JSON of the reading's
// proof, fetched when the check runs) or `data-proof-key` (a reading id in the page's JSON block
// script#trace-proofs, read when the check runs).
import { checkProof } from "./proof.js";

const KEYS = ["leaf", "path", "node"]; // checkProof's checks, in its documented order

function fill(template, values) {
  return template.replace(/\{(\w+)\}/g, (_, name) => (name in values ? String(values[name]) : `{${name}}`));
}

function element(name, attributes = {}, text) {
  const node = document.createElement(name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

async function bundleOf(target) {
  if (target.dataset.proofUrl) {
    const reply = await fetch(target.dataset.proofUrl, { credentials: "same-origin", headers: { accept: "application/json" } });
    const body = await reply.json();
    if (!reply.ok) throw new Error(body && body.error ? `${body.error.code}: ${body.error.message}` : `HTTP ${reply.status}`);
    return body;
  }
  const block = document.getElementById("trace-proofs");
  const proofs = block ? JSON.parse(block.textContent) : {};
  const bundle = proofs[target.dataset.proofKey];
  if (!bundle) throw new Error(`no proof for reading ${target.dataset.proofKey}`);
  return bundle;
}

function show(target, result, labels) {
  const list = element("ul", { class: "checks" });
  result.checks.forEach((c, i) => {
    const key = KEYS[i] || "other";
    const onNode = c.where !== "browser";
    const item = element("li", { "data-check": key, "data-ok": c.ok, "data-where": onNode ? "node" : "browser" });
    item.append(element("span", { class: `badge ${c.ok ? "ok" : "bad"}` }, c.ok ? `✓ ${labels.pass}` : `✗ ${labels.fail}`),
      " ", element("strong", {}, labels[key] || c.check), " ",
      element("span", { class: "where" }, onNode ? fill(labels.whereNode, { url: c.where.replace(/^node at /, "") })
        : labels.whereBrowser), " ",
      element("span", { class: "detail", lang: "en" }, c.detail));
    list.append(item);
  });
  target.replaceChildren(list);
  target.dataset.state = result.ok ? "pass" : "fail";
}

function failed(target, reason, labels) {
  target.replaceChildren(element("p", { class: "alert" }, fill(labels.loadFailed, { reason })));
  target.dataset.state = "fail";
}

async function run(form) {
  const d = form.dataset;
  const labels = { leaf: d.checkLeaf, path: d.checkPath, node: d.checkNode, whereBrowser: d.whereBrowser,
    whereNode: d.whereNode, pass: d.pass, fail: d.fail, loadFailed: d.loadFailed };
  const nodeUrl = form.elements.node.value.trim();
  const anchorAddress = form.elements.anchor.value.trim();
  const status = document.getElementById("check-status");
  const targets = [...document.querySelectorAll("[data-proof-url], [data-proof-key]")];
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  form.dataset.state = "running";
  status.textContent = d.running;
  let passed = 0;
  for (const target of targets) {
    target.dataset.state = "running";
    target.replaceChildren(element("span", { class: "badge none" }, d.running));
    try {
      const result = await checkProof(await bundleOf(target), { nodeUrl, anchorAddress });
      show(target, result, labels);
      if (result.ok) passed += 1;
    } catch (error) {
      failed(target, error && error.message ? error.message : String(error), labels);
    }
  }
  status.textContent = fill(d.summary, { passed, total: targets.length });
  form.dataset.state = passed === targets.length ? "pass" : "fail";
  button.disabled = false;
}

function start() {
  const form = document.getElementById("browser-check");
  if (!form) return;
  const needsScript = document.getElementById("check-needs-script");
  if (needsScript) needsScript.hidden = true;
  form.hidden = false;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (form.dataset.state !== "running") run(form);
  });
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();

// Checks a reading's proof bundle (contracts/COMMITMENTS.md, "Proof bundles": the `proof` of a report trace's
// reading, or GET /api/v1/meters/readings/{id}/proof) without trusting the service that served it:
//   1. in the browser, with Web Crypto's SHA-256: the canonical reading record hashes to the leaf digest, and the
//      Merkle-sum path folds from the leaf to the root the bundle names (checking every subtotal on the way);
//   2. on a node the user chooses, with one eth_call: MeterAnchor.verifyReading accepts the anchor record, its
//      batch path, the digest, the value and the steps, so the root is the one the chain committed to.
// Every result says which check ran where: {check, where: "browser" | "node at URL", ok, detail}.
// No dependencies; amounts are BigInt throughout (sums are uint128).

const STEP_LEFT = 0;
const STEP_RIGHT = 1;
const STEP_LEVEL = 2;
const LEVEL_ENTERPRISE = 4;
const MAX_U64 = (1n << 64n) - 1n;
const MAX_U128 = (1n << 128n) - 1n;
const LEVEL_NAMES = { 1: "device", 2: "workshop", 3: "facility", 4: "enterprise", 5: "period" };

// keccak256 of verifyReading's signature, first four bytes: Web Crypto has no keccak, and the signature is fixed
// (tests/console/test_browser_checks.py holds it to the compiled contract's ABI).
export const VERIFY_READING_SELECTOR = "3280f55a";
export const VERIFY_READING_SIGNATURE =
  "verifyReading((uint256,uint64,uint8,uint64,uint64,bytes32,uint128,uint64,bytes32,uint256,address)," +
  "uint256,bytes32[],bytes32,uint128,(uint8,uint8,bytes32,uint128,uint64)[])";

// ------------------------------------------------------------------ bytes

function hexToBytes(hex, length) {
  const text = String(hex).replace(/^0x/i, "");
  if (!/^[0-9a-fA-F]*$/.test(text) || text.length % 2) throw new Error(`not hex: ${hex}`);
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  if (length !== undefined && out.length !== length) throw new Error(`expected ${length} bytes: ${hex}`);
  return out;
}

function bytesToHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function uint(value, size, max) {
  const n = BigInt(value);
  if (n < 0n || n > max) throw new Error(`out of range for ${size} bytes: ${value}`);
  const out = new Uint8Array(size);
  let rest = n;
  for (let i = size - 1; i >= 0; i--) {
    out[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  return out;
}

const u8 = (v) => uint(v, 1, 0xffn);
const u16 = (v) => uint(v, 2, 0xffffn);
const u64 = (v) => uint(v, 8, MAX_U64);
const u128 = (v) => uint(v, 16, MAX_U128);

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function ascii(text) {
  const bytes = new TextEncoder().encode(String(text));
  if (bytes.some((b) => b > 0x7f)) throw new Error(`not ASCII: ${text}`);
  return bytes;
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

function sameBytes(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

// ------------------------------------------------------------------ the Merkle-sum commitment

/** The canonical reading record's bytes (COMMITMENTS.md, "The reading leaf"). */
export function recordBytes(record) {
  const quantity = ascii(record.quantity);
  const unit = ascii(record.unit);
  const carrier = ascii(record.carrier);
  return concat(ascii("CLR1"), hexToBytes(record.deviceId, 32), u64(record.sequence), u64(record.timestamp),
    u16(quantity.length), quantity, u8(unit.length), unit, u8(carrier.length), carrier,
    hexToBytes(record.factorSetId, 32), u8(record.scope), u128(record.value));
}

async function leaf(digest, value) {
  return { hash: await sha256(concat(u8(0), digest, u128(value))), sum: value, count: 1n };
}

async function pair(left, right) {
  const sum = left.sum + right.sum;
  const count = left.count + right.count;
  if (sum > MAX_U128 || count > MAX_U64) throw new Error("sum or count out of range");
  const hash = await sha256(concat(u8(1), left.hash, u128(left.sum), u64(left.count), right.hash, u128(right.sum),
    u64(right.count)));
  return { hash, sum, count };
}

async function levelNode(level, id, child) {
  const hash = await sha256(concat(u8(2), u8(level), id, child.hash, u128(child.sum), u64(child.count)));
  return { hash, sum: child.sum, count: child.count };
}

function stepsOf(bundle) {
  return (bundle.steps || bundle.proof || []).map((s) => ({
    kind: Number(s.kind), level: Number(s.level), data: hexToBytes(s.data, 32), sum: BigInt(s.sum),
    count: BigInt(s.count),
  }));
}

/** Fold the steps from the leaf: the node reached and the subtotal of every level wrap on the way. */
export async function fold(digest, value, steps) {
  let node = await leaf(digest, value);
  const subtotals = [];
  let lastLevel = 0;
  for (const step of steps) {
    const sibling = { hash: step.data, sum: step.sum, count: step.count };
    if (step.kind === STEP_LEFT) node = await pair(sibling, node);
    else if (step.kind === STEP_RIGHT) node = await pair(node, sibling);
    else if (step.kind === STEP_LEVEL) {
      if (step.level <= lastLevel) throw new Error("level wraps must be in strictly increasing order");
      lastLevel = step.level;
      node = await levelNode(step.level, step.data, node);
      subtotals.push({ level: step.level, id: bytesToHex(step.data), sum: node.sum, count: node.count });
    } else throw new Error(`unknown step kind ${step.kind}`);
  }
  return { node, subtotals };
}

// ------------------------------------------------------------------ the checks

function valueOf(bundle) {
  return BigInt(bundle.value_mg ?? bundle.valueMg ?? bundle.value);
}

/** Check 1: the record hashes to the digest (and states the same value). */
export async function checkLeaf(bundle) {
  const base = { check: "reading record -> leaf digest (SHA-256)", where: "browser" };
  try {
    if (!bundle.record) return { ...base, ok: false, detail: "the bundle has no reading record to hash" };
    const digest = await sha256(recordBytes(bundle.record));
    if (BigInt(bundle.record.value) !== valueOf(bundle)) {
      return { ...base, ok: false, detail: `the record states ${bundle.record.value} mg, the leaf ${valueOf(bundle)}` };
    }
    const ok = sameBytes(digest, hexToBytes(bundle.digest, 32));
    return { ...base, ok, detail: ok ? `digest 0x${bytesToHex(digest)}`
      : `the record hashes to 0x${bytesToHex(digest)}, not the bundle's digest ${bundle.digest}` };
  } catch (error) {
    return { ...base, ok: false, detail: `the record cannot be encoded: ${error.message}` };
  }
}

/** Check 2: the path folds from the leaf to the root the bundle names, through its stated subtotals. */
export async function checkPath(bundle) {
  const base = { check: "Merkle-sum path -> anchored root (SHA-256)", where: "browser" };
  try {
    const root = hexToBytes(bundle.root, 32);
    const named = bundle.anchor_record && bundle.anchor_record.root;
    if (named && !sameBytes(root, hexToBytes(named, 32))) {
      return { ...base, ok: false, detail: `the bundle's root ${bundle.root} is not its anchor record's ${named}` };
    }
    const { node, subtotals } = await fold(hexToBytes(bundle.digest, 32), valueOf(bundle), stepsOf(bundle));
    if (!sameBytes(node.hash, root)) {
      return { ...base, ok: false, detail: `the path leads to 0x${bytesToHex(node.hash)}, not the root ${bundle.root}` };
    }
    if (!subtotals.length || subtotals[subtotals.length - 1].level !== LEVEL_ENTERPRISE) {
      return { ...base, ok: false, detail: "the path does not end with the enterprise's level wrap" };
    }
    const stated = bundle.subtotals || [];
    for (const [i, s] of subtotals.entries()) {
      const claim = stated[i];
      if (claim && (BigInt(claim.sum_mg ?? claim.sumMg ?? claim.sum) !== s.sum || BigInt(claim.count) !== s.count)) {
        return { ...base, ok: false, detail: `the ${LEVEL_NAMES[s.level]} subtotal is ${s.sum} mg over ${s.count} ` +
          `readings, not the ${claim.sum_mg ?? claim.sumMg ?? claim.sum} mg over ${claim.count} the bundle states` };
      }
    }
    const top = subtotals[subtotals.length - 1];
    return { ...base, ok: true, detail: `root ${bundle.root}: ${top.sum} mg over ${top.count} readings; ` +
      subtotals.map((s) => `${LEVEL_NAMES[s.level]} ${s.sum} mg`).join(", ") };
  } catch (error) {
    return { ...base, ok: false, detail: `the proof is malformed: ${error.message}` };
  }
}

// ------------------------------------------------------------------ the node: MeterAnchor.verifyReading

function word(value) {
  return uint(value, 32, (1n << 256n) - 1n);
}

function addressWord(address) {
  return concat(new Uint8Array(12), hexToBytes(address, 20));
}

/** The calldata of verifyReading(record, batchId, batchProof, digest, value, steps), ABI-encoded by hand. */
export function verifyReadingCalldata(bundle) {
  const r = bundle.anchor_record;
  if (!r) throw new Error("the bundle has no anchor record (the reading's window is not anchored)");
  const batch = bundle.anchor_batch;
  const batchId = batch ? batch.first_anchor_id : r.anchor_id;
  const batchProof = batch ? batch.proof.map((h) => hexToBytes(h, 32)) : [];
  const steps = stepsOf(bundle);
  const record = [word(r.anchor_id), word(r.enterprise_org_id), word(r.measure), word(r.window_start),
    word(r.window_end), hexToBytes(r.root, 32), word(r.total), word(r.reading_count),
    hexToBytes(r.factor_set_id, 32), word(r.previous_anchor_id), addressWord(r.oracle)];
  const head = 16 * 32; // the record's 11 words (a static tuple, inline), then five more
  const proofAt = head + 32 * (1 + batchProof.length);
  const parts = [hexToBytes(VERIFY_READING_SELECTOR), ...record, word(batchId), word(head),
    hexToBytes(bundle.digest, 32), word(valueOf(bundle)), word(proofAt), word(batchProof.length), ...batchProof,
    word(steps.length)];
  for (const s of steps) parts.push(word(s.kind), word(s.level), s.data, word(s.sum), word(s.count));
  return "0x" + bytesToHex(concat(...parts));
}

/** (valid, subtotals) from verifyReading's return data. */
export function decodeVerifyReading(hex) {
  const data = hexToBytes(hex);
  const at = (offset) => BigInt("0x" + (bytesToHex(data.slice(offset, offset + 32)) || "0"));
  if (data.length < 64) throw new Error(`a short answer: 0x${bytesToHex(data)}`);
  const valid = at(0) === 1n;
  const start = Number(at(32));
  const length = Number(at(start));
  const subtotals = [];
  for (let i = 0; i < length; i++) {
    const p = start + 32 + i * 128;
    subtotals.push({ level: Number(at(p)), id: bytesToHex(data.slice(p + 32, p + 64)), sum: at(p + 64),
      count: at(p + 96) });
  }
  return { valid, subtotals };
}

/** Check 3: the node's MeterAnchor.verifyReading accepts the proof against the commitment the chain keeps. */
export async function checkOnNode(bundle, nodeUrl, anchorAddress, fetchImpl = fetch) {
  const base = { check: "MeterAnchor.verifyReading (eth_call)", where: `node at ${nodeUrl}` };
  let data;
  try {
    data = verifyReadingCalldata(bundle);
    hexToBytes(anchorAddress, 20);
  } catch (error) {
    return { ...base, ok: false, detail: `not asked: ${error.message}` };
  }
  let answer;
  try {
    const reply = await fetchImpl(nodeUrl, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_call", params: [{ to: anchorAddress, data }, "latest"] }),
    });
    answer = await reply.json();
  } catch (error) {
    return { ...base, ok: false, detail: `the node did not answer: ${error.message}` };
  }
  if (answer.error) {
    const reason = answer.error.data ? ` (revert data ${answer.error.data})` : "";
    return { ...base, ok: false, detail: `the call failed: ${answer.error.message}${reason}` };
  }
  try {
    const { valid, subtotals } = decodeVerifyReading(answer.result);
    const top = subtotals[subtotals.length - 1];
    return { ...base, ok: valid, detail: valid
      ? `accepted: anchor ${bundle.anchor_record.anchor_id}, ${top.sum} mg over ${top.count} readings`
      : `refused: the proof does not lead to the root anchor ${bundle.anchor_record.anchor_id} commits to` };
  } catch (error) {
    return { ...base, ok: false, detail: `the answer cannot be read: ${error.message}` };
  }
}

/**
 * Every check of a proof bundle: the leaf and the path in the browser, then (given a node URL and MeterAnchor's
 * address) verifyReading on that node. `ok` only when every check ran and passed.
 */
export async function checkProof(bundle, { nodeUrl, anchorAddress, fetchImpl } = {}) {
  const checks = [await checkLeaf(bundle), await checkPath(bundle)];
  if (nodeUrl && anchorAddress) checks.push(await checkOnNode(bundle, nodeUrl, anchorAddress, fetchImpl || fetch));
  return { ok: checks.length === 3 && checks.every((c) => c.ok), checks };
}

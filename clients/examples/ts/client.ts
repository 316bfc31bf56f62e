/**
 * A CarbonLedger client in TypeScript with viem, holding its own key (a non-custodial member):
 *
 * 1. finds the chain and the suite through the discovery endpoint (no credentials) and checks that the deployed
 *    ABIs are the kit's (their hashes recomputed here by the README's recipe);
 * 2. reads its allowance balance from the node, at the address discovery gave;
 * 3. signs API requests as EIP-712 typed data (X-CL-Signature-Scheme: eip712);
 * 4. signs an allowance transfer itself and has the service relay it, then reads both balances again;
 * 5. decodes the custom error of a call the contract refuses (with the kit's `suiteErrorsAbi`), and shows the
 *    service refusing to relay that transfer under the same name.
 *
 * Settings (environment): CARBONLEDGER_URL (the service), CARBONLEDGER_RPC_URL (the node), MEMBER_KEY (the
 * member's private key), RECIPIENT (an address to send to), YEAR (the allowance vintage), AMOUNT.
 * Prints one JSON line of what it found.
 */
import {
  type Address,
  type Hex,
  BaseError,
  createPublicClient,
  decodeErrorResult,
  encodeFunctionData,
  http,
  sha256,
  stringToBytes,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";

import { abiHashes, abis, allowanceRegistryAbi, contractNames, suiteErrorsAbi } from "../../ts/index.js";

declare const process: { env: Record<string, string | undefined>; exitCode?: number };

function setting(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`set ${name}`);
  return value;
}

const serviceUrl = setting("CARBONLEDGER_URL").replace(/\/$/, "");
const rpcUrl = setting("CARBONLEDGER_RPC_URL");
const account = privateKeyToAccount(setting("MEMBER_KEY") as Hex);
const recipient = setting("RECIPIENT") as Address;
const year = BigInt(setting("YEAR"));
const amount = BigInt(setting("AMOUNT"));

/** What GET /api/v1/chain answers (the fields used here). */
interface ChainInfo {
  chain_id: number;
  free_gas: boolean;
  contracts: Record<string, { address: Address; abi_hash: string; version: number }>;
  signed_requests: {
    eip712_domain: { name: string; version: string; chainId: number; verifyingContract: Address };
    eip712_types: Record<string, { name: string; type: string }[]>;
  };
}

/** The signed request's struct, as the README gives it (checked against what discovery publishes). */
const requestTypes = {
  Request: [
    { name: "method", type: "string" },
    { name: "path", type: "string" },
    { name: "bodyHash", type: "bytes32" },
    { name: "timestamp", type: "uint256" },
    { name: "nonce", type: "string" },
  ],
} as const;

/** The README's recipe for an ABI hash: JSON with sorted keys, ", " and ": " as separators, then SHA-256. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return "[" + value.map(canonical).join(", ") + "]";
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return "{" + entries.map(([k, v]) => JSON.stringify(k) + ": " + canonical(v)).join(", ") + "}";
  }
  return JSON.stringify(value);
}

function abiHash(abi: unknown): string {
  return sha256(stringToBytes(canonical(abi))).slice(2);
}

async function discover(): Promise<ChainInfo> {
  const reply = await fetch(`${serviceUrl}/api/v1/chain`);
  if (!reply.ok) throw new Error(`GET /api/v1/chain: ${reply.status}`);
  return (await reply.json()) as ChainInfo;
}

/** An API request signed as EIP-712 typed data: method, path (with query), the body's SHA-256, time, nonce. */
async function signedFetch(info: ChainInfo, method: string, path: string, body?: unknown): Promise<Response> {
  const text = body === undefined ? "" : JSON.stringify(body);
  const timestamp = Math.floor(Date.now() / 1000);
  const nonce = crypto.randomUUID();
  const signature = await account.signTypedData({
    domain: info.signed_requests.eip712_domain,
    types: requestTypes,
    primaryType: "Request",
    message: { method, path, bodyHash: sha256(stringToBytes(text)), timestamp: BigInt(timestamp), nonce },
  });
  return fetch(serviceUrl + path, {
    method,
    body: body === undefined ? undefined : text,
    headers: {
      "Content-Type": "application/json",
      "X-CL-Address": account.address,
      "X-CL-Timestamp": String(timestamp),
      "X-CL-Nonce": nonce,
      "X-CL-Signature": signature,
      "X-CL-Signature-Scheme": "eip712",
    },
  });
}

/** The revert data inside whatever viem threw for a refused call. */
function revertData(error: unknown): Hex {
  if (error instanceof BaseError) {
    const found = error.walk((e) => typeof (e as { data?: unknown }).data === "string");
    const data = (found as { data?: unknown } | null)?.data;
    if (typeof data === "string" && data.startsWith("0x")) return data as Hex;
  }
  throw error;
}

async function main(): Promise<void> {
  const info = await discover();
  if (JSON.stringify(info.signed_requests.eip712_types) !== JSON.stringify(requestTypes)) {
    throw new Error("the service signs another request layout than this client");
  }
  const mismatched = contractNames.filter(
    (name) => info.contracts[name]?.abi_hash !== abiHash(abis[name]) || abiHashes[name] !== abiHash(abis[name]),
  );
  const node = createPublicClient({ transport: http(rpcUrl) });
  const registry = info.contracts.AllowanceRegistry.address;
  const balanceOf = (holder: Address) =>
    node.readContract({ address: registry, abi: allowanceRegistryAbi, functionName: "balanceOf", args: [holder, year] });
  const before = await balanceOf(account.address);

  const signing = await signedFetch(info, "GET", "/api/v1/transactions/signing");
  if (!signing.ok) throw new Error(`GET /api/v1/transactions/signing: ${signing.status} ${await signing.text()}`);
  const { next_nonce: nonce, fees } = (await signing.json()) as { next_nonce: number; fees: Record<string, number> };

  const transfer = (value: bigint) =>
    encodeFunctionData({
      abi: allowanceRegistryAbi,
      functionName: "safeTransferFrom",
      args: [account.address, recipient, year, value, "0x"],
    });
  // Signed with what the service says: its chain id, the member's next nonce and the fee fields (zeros when free).
  const sign = (data: Hex, txNonce: number) => {
    const common = { to: registry, data, nonce: txNonce, gas: 300_000n, chainId: info.chain_id } as const;
    return "gasPrice" in fees
      ? account.signTransaction({ ...common, type: "legacy", gasPrice: BigInt(fees.gasPrice) })
      : account.signTransaction({
          ...common,
          type: "eip1559",
          maxFeePerGas: BigInt(fees.maxFeePerGas),
          maxPriorityFeePerGas: BigInt(fees.maxPriorityFeePerGas),
        });
  };
  const raw = await sign(transfer(amount), nonce);
  const relayed = await signedFetch(info, "POST", "/api/v1/transactions/relay", { raw_tx: raw });
  const relay = (await relayed.json()) as { id: number; status: string; tx_hash: string };
  if (!relayed.ok) throw new Error(`relay: ${relayed.status} ${JSON.stringify(relay)}`);
  const after = await balanceOf(account.address);
  const recipientAfter = await balanceOf(recipient);

  // More than the member holds: the contract refuses with a custom error, decoded here from the raw revert data.
  const tooMuch = after + 1n;
  let refused: { error: string; args: string[] } | null = null;
  try {
    await node.call({ account: account.address, to: registry, data: transfer(tooMuch) });
  } catch (error) {
    const decoded = decodeErrorResult({ abi: suiteErrorsAbi, data: revertData(error) });
    refused = { error: decoded.errorName, args: (decoded.args ?? []).map(String) };
  }
  // The service, which runs a relayed call before it sends it, refuses it under the same name.
  const rawTooMuch = await sign(transfer(tooMuch), nonce + 1);
  const refusal = await signedFetch(info, "POST", "/api/v1/transactions/relay", { raw_tx: rawTooMuch });
  const serviceRefusal = (await refusal.json()) as { error: string };

  console.log(
    JSON.stringify({
      client: "typescript-viem",
      chain_id: info.chain_id,
      free_gas: info.free_gas,
      abi_hashes_match: mismatched.length === 0,
      mismatched,
      balance_before: before.toString(),
      relayed: { status: relay.status, tx_hash: relay.tx_hash },
      balance_after: after.toString(),
      recipient_after: recipientAfter.toString(),
      refused,
      service_refusal: { status: refusal.status, error: serviceRefusal.error },
    }),
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});

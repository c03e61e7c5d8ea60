/**
 * Reading one key of a HashiCorp Vault KV secret over Vault's HTTP API (`GET /v1/{path}`), for `vault:path#key`
 * secret references.
 *
 * Vault is a destination the operator configured (HOOKLEDGER_VAULT_ADDR), never one a tenant chose, and it
 * usually sits on a private address, so the webhook egress policy (which refuses private addresses) does not
 * apply. What still applies: one resolution pinned for the connection, connect and total timeouts, a response
 * cap, and TLS verified against the system store or HOOKLEDGER_VAULT_CACERT, with an optional client
 * certificate.
 *
 * Both KV engines are understood: version 1 answers `{"data":{key:value}}`, version 2 answers
 * `{"data":{"data":{key:value},"metadata":{…}}}` for paths that include `data/` (`secret/data/app`), as in
 * Vault's own HTTP API. Errors say what went wrong in a fixed sentence: never the token, never Vault's body.
 */
import { classifyEgressError, EgressTimeoutError } from "./errors.ts";
import { preferIPv4, resolveUrlHost, systemResolver, type ResolvedAddress, type Resolver } from "./resolver.ts";
import { exchangePinned } from "./transport.ts";

export interface VaultReaderOptions {
  /** Vault's address, e.g. https://vault.internal:8200 (a path prefix, if any, is kept). */
  address: URL;
  /** Asked for on every read, so a token file renewed by Vault Agent is picked up. */
  token: () => Promise<string>;
  /** Vault Enterprise / HCP namespace, sent as X-Vault-Namespace. */
  namespace?: string | undefined;
  timeoutMs: number;
  /** PEM roots that replace the system store. */
  caCertificates?: string[] | undefined;
  clientCertificate?: { cert: string; key: string } | undefined;
  /** Injected in tests; the operating system's resolver otherwise. */
  resolver?: Resolver | undefined;
}

export interface VaultReader {
  /** The string at `key` of the secret at `path`; throws VaultReadError. */
  read(path: string, key: string): Promise<string>;
}

export class VaultReadError extends Error {
  override readonly name = "VaultReadError";
}

/** Large enough for any KV secret we would use as a key; a bigger answer is not one. */
const MAX_RESPONSE_BYTES = 1024 * 1024;
const MAX_HEADER_BYTES = 16 * 1024;

const statusMessages: Record<number, string> = {
  400: "Vault refused the request as invalid (400)",
  403: "Vault refused the token for this path (403 permission denied)",
  404: "Vault has no secret at this path (404; for a KV version 2 engine the path includes data/, e.g. secret/data/app)",
  429: "Vault is rate limiting this client (429)",
  503: "Vault is sealed, in standby or unavailable (503)",
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The key/value map of a KV answer, version 1 or 2. Version 2 is recognised by its metadata (a version number and a
 * creation time), so a version 1 secret that merely has keys named `data` and `metadata` is not mistaken for it.
 */
function secretData(body: unknown): Record<string, unknown> | undefined {
  if (!isRecord(body) || !isRecord(body.data)) return undefined;
  const data = body.data;
  const metadata = data.metadata;
  const versioned = isRecord(data.data) && isRecord(metadata) && typeof metadata.version === "number" && typeof metadata.created_time === "string";
  return versioned && isRecord(data.data) ? data.data : data;
}

async function addressesOf(url: URL, resolver: Resolver, deadline: number, limitMs: number): Promise<ResolvedAddress[]> {
  let found: ResolvedAddress[];
  try {
    found = await resolveUrlHost(url, resolver, deadline, limitMs);
  } catch (error) {
    throw new VaultReadError(error instanceof EgressTimeoutError ? "resolving Vault's host name took too long" : "Vault's host name could not be resolved");
  }
  if (found.length === 0) throw new VaultReadError("Vault's host name has no address");
  return preferIPv4(found);
}

/**
 * @example
 * const vault = createVaultReader({ address: new URL("https://vault.internal:8200"), token: async () => "hvs.…", timeoutMs: 10000 });
 * await vault.read("secret/data/hookledger/github", "webhook_secret"); // "…"
 */
export function createVaultReader(options: VaultReaderOptions): VaultReader {
  const base = options.address.href.endsWith("/") ? options.address.href : `${options.address.href}/`;
  const resolver = options.resolver ?? systemResolver;
  return {
    async read(path, key) {
      const deadline = performance.now() + options.timeoutMs;
      const url = new URL(`v1/${path.split("/").map(encodeURIComponent).join("/")}`, base);
      const token = await options.token();
      const outcome = await exchangePinned({
        url,
        addresses: await addressesOf(url, resolver, deadline, options.timeoutMs),
        method: "GET",
        headers: {
          accept: "application/json",
          "x-vault-token": token,
          ...(options.namespace ? { "x-vault-namespace": options.namespace } : {}),
        },
        body: undefined,
        // One limit, as Vault's own clients have: connecting is part of the whole read.
        connectTimeoutMs: options.timeoutMs,
        deadline,
        totalTimeoutMs: options.timeoutMs,
        maxResponseBytes: MAX_RESPONSE_BYTES,
        maxHeaderBytes: MAX_HEADER_BYTES,
        trustedCertificates: options.caCertificates,
        clientCertificate: options.clientCertificate,
      });
      if (!outcome.ok) {
        throw new VaultReadError(`cannot reach Vault: ${classifyEgressError(outcome.error, { maxHeaderBytes: MAX_HEADER_BYTES }).message}`);
      }
      if (outcome.status !== 200) throw new VaultReadError(statusMessages[outcome.status] ?? `Vault answered ${outcome.status}`);
      if (outcome.bodyTruncated) throw new VaultReadError(`Vault's answer is over ${MAX_RESPONSE_BYTES} bytes`);
      let body: unknown;
      try {
        body = JSON.parse(outcome.bodyExcerpt);
      } catch {
        throw new VaultReadError("Vault's answer is not JSON");
      }
      const data = secretData(body);
      if (!data) throw new VaultReadError("Vault's answer holds no secret data (is this a KV path?)");
      const value = Object.hasOwn(data, key) ? data[key] : undefined;
      if (value === undefined) throw new VaultReadError(`the secret has no key "${key}"`);
      if (typeof value !== "string" || value === "") throw new VaultReadError(`the value of key "${key}" is not a non-empty string`);
      return value;
    },
  };
}

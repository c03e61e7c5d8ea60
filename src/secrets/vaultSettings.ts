/**
 * The `HOOKLEDGER_VAULT_*` settings (named after Vault's own VAULT_* variables) and the Vault reader built from
 * them. Spread into the app's config schema like the egress settings.
 *
 * Checks that span settings — a token with the address, a client key with its certificate, https unless Vault is
 * on this machine — run when the reader is built at start-up, so a half-configured Vault stops the process
 * instead of failing the first reference.
 */
import { readFileSync } from "node:fs";
import * as v from "valibot";
import { isLoopbackName, parseIPAddress } from "../egress/normalise.ts";
import { isPlainLoopback } from "../egress/ranges.ts";
import { createVaultReader, VaultReadError, type VaultReader } from "../egress/vault.ts";
import type { Resolver } from "../egress/resolver.ts";
import { createSecretResolver, resolveSetting } from "./references.ts";

const UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60000 };

/** `10s`, `1500ms`, `2m`, or a bare number of seconds as Vault's VAULT_CLIENT_TIMEOUT takes it; 100 ms to 10 min. */
const durationSetting = (fallback: string) =>
  v.pipe(
    v.optional(v.string(), fallback),
    v.trim(),
    v.regex(/^\d+(ms|s|m)?$/, "expected a duration such as 10s, 1500ms or 2m (a bare number is seconds)"),
    v.transform((raw) => {
      const [, amount = "0", unit = "s"] = /^(\d+)(ms|s|m)?$/.exec(raw) ?? [];
      return Number(amount) * (UNITS_MS[unit] ?? 1000);
    }),
    v.minValue(100, "expected at least 100ms"),
    v.maxValue(600000, "expected at most 10m"),
  );

const pathSetting = (what: string) => v.optional(v.pipe(v.string(), v.trim(), v.minLength(1, `expected the path of ${what}`)));

export const vaultSettings = {
  HOOKLEDGER_VAULT_ADDR: v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.check((raw) => {
        try {
          const url = new URL(raw);
          return (url.protocol === "https:" || url.protocol === "http:") && url.hostname !== "" && url.username === "" && url.search === "";
        } catch {
          return false;
        }
      }, "expected Vault's address, e.g. https://vault.internal:8200"),
    ),
  ),
  /** A reference (env:, file: — e.g. a Vault Agent token sink — or raw: in development), read on every request. */
  HOOKLEDGER_VAULT_TOKEN: v.optional(v.pipe(v.string(), v.trim(), v.regex(/^(env|file|raw):.+$/s, "expected a secret reference to the token: env:NAME, file:/path or raw:value (development only)"))),
  HOOKLEDGER_VAULT_NAMESPACE: v.optional(v.pipe(v.string(), v.trim(), v.regex(/^[A-Za-z0-9_.\-/]{1,256}$/, "expected a namespace such as admin/team-a"))),
  HOOKLEDGER_VAULT_TIMEOUT: durationSetting("10s"),
  HOOKLEDGER_VAULT_CACERT: pathSetting("a PEM file of CA certificates"),
  HOOKLEDGER_VAULT_CLIENT_CERT: pathSetting("a PEM client certificate"),
  HOOKLEDGER_VAULT_CLIENT_KEY: pathSetting("the client certificate's PEM key"),
};

const vaultSchema = v.object(vaultSettings);
export type VaultConfig = v.InferOutput<typeof vaultSchema> & { HOOKLEDGER_DEV_MODE: boolean };

function readPem(setting: string, file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    throw new Error(`${setting}: ${file} cannot be read`);
  }
}

/** Loopback as the egress policy means it (127.0.0.0/8, ::1, `localhost` names): the token never leaves the host. */
function isLocal(url: URL): boolean {
  const address = parseIPAddress(url.hostname);
  return address ? isPlainLoopback(address) : isLoopbackName(url.hostname);
}

/**
 * The Vault reader the settings describe, or undefined when HOOKLEDGER_VAULT_ADDR is unset.
 *
 * @example
 * const vault = await vaultReaderFromSettings({ ...config, HOOKLEDGER_VAULT_ADDR: "https://vault.internal:8200", HOOKLEDGER_VAULT_TOKEN: "file:/run/vault/token" });
 * @throws Error naming the setting when the settings do not fit together or a file cannot be read.
 */
export async function vaultReaderFromSettings(
  config: VaultConfig,
  options: { env?: Record<string, string | undefined>; resolver?: Resolver } = {},
): Promise<VaultReader | undefined> {
  if (!config.HOOKLEDGER_VAULT_ADDR) {
    const others = ["HOOKLEDGER_VAULT_TOKEN", "HOOKLEDGER_VAULT_NAMESPACE", "HOOKLEDGER_VAULT_CACERT", "HOOKLEDGER_VAULT_CLIENT_CERT", "HOOKLEDGER_VAULT_CLIENT_KEY"] as const;
    const stray = others.find((name) => config[name] !== undefined);
    if (stray) throw new Error(`${stray}: set HOOKLEDGER_VAULT_ADDR too, or remove it`);
    return undefined;
  }
  const address = new URL(config.HOOKLEDGER_VAULT_ADDR);
  if (address.protocol === "http:" && !isLocal(address) && !config.HOOKLEDGER_DEV_MODE) {
    throw new Error("HOOKLEDGER_VAULT_ADDR: plain http would send the Vault token in clear text; use https (http is allowed to a loopback address or with HOOKLEDGER_DEV_MODE=true)");
  }
  const tokenReference = config.HOOKLEDGER_VAULT_TOKEN;
  if (!tokenReference) throw new Error("HOOKLEDGER_VAULT_TOKEN: required with HOOKLEDGER_VAULT_ADDR (e.g. file:/run/vault/token, written by Vault Agent)");
  if ((config.HOOKLEDGER_VAULT_CLIENT_CERT === undefined) !== (config.HOOKLEDGER_VAULT_CLIENT_KEY === undefined)) {
    throw new Error(`${config.HOOKLEDGER_VAULT_CLIENT_CERT ? "HOOKLEDGER_VAULT_CLIENT_KEY" : "HOOKLEDGER_VAULT_CLIENT_CERT"}: client certificate and key go together; set both or neither`);
  }
  const local = createSecretResolver({ devMode: config.HOOKLEDGER_DEV_MODE, env: options.env });
  // Resolved now so a missing token stops start-up, and again on every read so a renewed token file is used;
  // a later failure is reported without the reference, which is the operator's business, not a tenant's.
  await resolveSetting(local, "HOOKLEDGER_VAULT_TOKEN", tokenReference);
  const token = async () => {
    try {
      return await local(tokenReference);
    } catch {
      throw new VaultReadError("the Vault token (HOOKLEDGER_VAULT_TOKEN) cannot be read");
    }
  };
  return createVaultReader({
    address,
    token,
    namespace: config.HOOKLEDGER_VAULT_NAMESPACE,
    timeoutMs: config.HOOKLEDGER_VAULT_TIMEOUT,
    caCertificates: config.HOOKLEDGER_VAULT_CACERT ? [readPem("HOOKLEDGER_VAULT_CACERT", config.HOOKLEDGER_VAULT_CACERT)] : undefined,
    clientCertificate: config.HOOKLEDGER_VAULT_CLIENT_CERT && config.HOOKLEDGER_VAULT_CLIENT_KEY
      ? { cert: readPem("HOOKLEDGER_VAULT_CLIENT_CERT", config.HOOKLEDGER_VAULT_CLIENT_CERT), key: readPem("HOOKLEDGER_VAULT_CLIENT_KEY", config.HOOKLEDGER_VAULT_CLIENT_KEY) }
      : undefined,
    resolver: options.resolver,
  });
}

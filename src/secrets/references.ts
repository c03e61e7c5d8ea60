/**
 * Secret references: configuration names where a secret lives instead of holding it.
 *   env:NAME         the value of environment variable NAME
 *   file:/path       the contents of a file (trailing newline removed), e.g. a mounted Docker/Kubernetes secret
 *   vault:path#key   one key of a HashiCorp Vault KV secret (HOOKLEDGER_VAULT_*; `secret/data/app#key` for KV v2)
 *   raw:value        the value itself — refused unless HOOKLEDGER_DEV_MODE is on, so production configs never
 *                    carry secrets in clear text
 * A reference is resolved when it is configured — at start-up for settings, when a secret is added through the
 * API — so one that cannot be resolved fails there, with a message naming the reference, never the value.
 */
import { readFileSync } from "node:fs";
import { VaultReadError, type VaultReader } from "../egress/vault.ts";

export class SecretReferenceError extends Error {
  override readonly name = "SecretReferenceError";
}

export const SECRET_REF_PATTERN = /^(env|file|vault|raw):.+$/s;
export const SECRET_REF_FORMS = "env:NAME, file:/path, vault:path#key or raw:value (development only)";

export type ReferenceScheme = "env" | "file" | "vault" | "raw";

/** Resolves a reference to its value; rejects with SecretReferenceError. */
export type SecretResolver = (reference: string) => Promise<string>;

/**
 * @example
 * referenceScheme("vault:secret/data/app#key"); // "vault"
 */
export function referenceScheme(reference: string): ReferenceScheme | undefined {
  const colon = reference.indexOf(":");
  if (colon < 0) return undefined;
  const scheme = reference.slice(0, colon);
  return scheme === "env" || scheme === "file" || scheme === "vault" || scheme === "raw" ? scheme : undefined;
}

const VAULT_SEGMENT = /^[A-Za-z0-9._~+@=,-]+$/;

/**
 * Splits the part after `vault:` into a KV path and a key, or says what is wrong with it. Segments are plain
 * names (no `.` or `..`, no empty segment), so a reference cannot climb out of the path it names.
 *
 * @example
 * parseVaultReference("secret/data/hookledger/github#webhook_secret"); // { path: "secret/data/hookledger/github", key: "webhook_secret" }
 */
export function parseVaultReference(rest: string): { path: string; key: string } | { error: string } {
  const hash = rest.lastIndexOf("#");
  if (hash <= 0 || hash === rest.length - 1) return { error: "expected vault:path#key, e.g. vault:secret/data/hookledger/github#webhook_secret" };
  const path = rest.slice(0, hash);
  const key = rest.slice(hash + 1);
  const segments = path.split("/");
  if (path.length > 512 || segments.some((segment) => !VAULT_SEGMENT.test(segment) || segment === "." || segment === "..")) {
    return { error: "the Vault path must be plain segments separated by single slashes (letters, digits, . _ ~ + @ = , -; no . or .. segments)" };
  }
  if (key.length > 256 || /[\u0000-\u001f\u007f]/.test(key)) return { error: "the key must be 1 to 256 characters without control characters" };
  return { path, key };
}

/**
 * A resolver for the configured sources. Without a Vault reader, `vault:` references are refused with a message
 * saying how to configure one.
 *
 * @example
 * const resolve = createSecretResolver({ devMode: false });
 * await resolve("env:GITHUB_HOOK_SECRET"); // "…"
 */
export function createSecretResolver(options: { devMode: boolean; env?: Record<string, string | undefined>; vault?: VaultReader | undefined }): SecretResolver {
  return async (reference) => {
    const rest = reference.slice(reference.indexOf(":") + 1);
    switch (referenceScheme(reference)) {
      case "env": {
        const value = (options.env ?? process.env)[rest];
        if (value === undefined || value === "") throw new SecretReferenceError(`env:${rest} is not set`);
        return value;
      }
      case "file":
        try {
          return readFileSync(rest, "utf8").replace(/\r?\n$/, "");
        } catch {
          throw new SecretReferenceError(`file:${rest} cannot be read`);
        }
      case "vault": {
        const parsed = parseVaultReference(rest);
        if ("error" in parsed) throw new SecretReferenceError(`vault:${rest}: ${parsed.error}`);
        if (!options.vault) throw new SecretReferenceError(`vault:${rest}: vault: references need HOOKLEDGER_VAULT_ADDR and HOOKLEDGER_VAULT_TOKEN`);
        try {
          return await options.vault.read(parsed.path, parsed.key);
        } catch (error) {
          if (error instanceof VaultReadError || error instanceof SecretReferenceError) throw new SecretReferenceError(`vault:${rest}: ${error.message}`);
          throw error;
        }
      }
      case "raw":
        if (!options.devMode) throw new SecretReferenceError("raw: secret references are refused unless HOOKLEDGER_DEV_MODE=true; use env:, file: or vault:");
        return rest;
      default:
        throw new SecretReferenceError(`expected a secret reference of the form ${SECRET_REF_FORMS}`);
    }
  };
}

/**
 * Resolves the reference in a setting, naming the setting in the error (start-up stops on it).
 *
 * @example
 * await resolveSetting(resolve, "HOOKLEDGER_ADMIN_TOKEN", "file:/run/secrets/admin"); // "…"
 */
export async function resolveSetting(resolve: SecretResolver, setting: string, reference: string): Promise<string> {
  try {
    return await resolve(reference);
  } catch (error) {
    if (error instanceof SecretReferenceError) throw new SecretReferenceError(`${setting}: ${error.message}`);
    throw error;
  }
}

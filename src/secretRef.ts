/**
 * Secret references: configuration names where a secret lives instead of holding it.
 *   env:NAME     the value of environment variable NAME
 *   file:/path   the contents of a file (trailing newline removed), e.g. a mounted Docker/Kubernetes secret
 *   raw:value    the value itself — refused unless HOOKLEDGER_DEV_MODE is on, so production configs never
 *                carry secrets in clear text
 * A reference that cannot be resolved fails at start-up with a message naming the reference, never the value.
 */
import { readFileSync } from "node:fs";

export class SecretReferenceError extends Error {
  override readonly name = "SecretReferenceError";
}

export const SECRET_REF_PATTERN = /^(env|file|raw):.+$/s;

export function resolveSecretRef(reference: string, options: { devMode: boolean; env?: Record<string, string | undefined> }): string {
  const colon = reference.indexOf(":");
  const scheme = reference.slice(0, colon);
  const rest = reference.slice(colon + 1);
  switch (scheme) {
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
    case "raw":
      if (!options.devMode) throw new SecretReferenceError("raw: secret references are refused unless HOOKLEDGER_DEV_MODE=true; use env: or file:");
      return rest;
    default:
      throw new SecretReferenceError("expected a secret reference of the form env:NAME, file:/path or raw:value");
  }
}

/**
 * Which secret references a tenant may give through the API (HOOKLEDGER_TENANT_SECRET_REFS).
 *
 * A reference is read with the service's own environment, file system and Vault token, so letting any tenant
 * name any reference would let one organization point a route at `env:DATABASE_URL`, `file:/etc/…` or another
 * organization's Vault path, and probe it through verification. So references in the API are off unless the
 * operator lists prefixes they may start with; `{org_id}` in a prefix stands for the requesting organization, which
 * gives each tenant its own corner of Vault or of a secrets folder. `raw:` is a value, not a reference, and follows
 * HOOKLEDGER_DEV_MODE as everywhere else.
 *
 * Matching is on the reference as written, in canonical form; a `file:` folder is the operator's, so a symbolic
 * link placed inside it is the operator's decision too.
 */
import path from "node:path";
import * as v from "valibot";
import { parseVaultReference, referenceScheme } from "./references.ts";

export const tenantReferenceSettings = {
  HOOKLEDGER_TENANT_SECRET_REFS: v.pipe(
    v.optional(v.string(), ""),
    v.transform((raw) => raw.split(",").map((prefix) => prefix.trim()).filter((prefix) => prefix !== "")),
    v.check(
      (prefixes) => prefixes.every((prefix) => /^(env:[A-Za-z_]|file:\/|vault:[A-Za-z0-9])/.test(prefix)),
      "expected comma-separated env:, file:/ or vault: prefixes, e.g. vault:secret/data/tenants/{org_id}/",
    ),
    // Organization ids are UUIDs, whose hyphens no environment variable name can hold.
    v.check((prefixes) => !prefixes.some((prefix) => prefix.startsWith("env:") && prefix.includes("{org_id}")), "{org_id} fits file: and vault: prefixes, not env: names"),
  ),
};

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Whether `reference` is in its canonical form: anything else could spell a path the prefix does not cover. */
function isCanonical(reference: string): boolean {
  const rest = reference.slice(reference.indexOf(":") + 1);
  switch (referenceScheme(reference)) {
    case "env":
      return ENV_NAME.test(rest);
    case "file":
      return rest.startsWith("/") && path.posix.normalize(rest) === rest && !rest.endsWith("/");
    case "vault":
      return !("error" in parseVaultReference(rest));
    default:
      return false;
  }
}

/**
 * A path-like prefix covers what is under it, not a sibling that merely shares its spelling: after a file: prefix
 * comes `/` or nothing, after a vault: path `/` or `#`, and a prefix that already names a key (`…#key`) covers only
 * that key. An env: prefix is a plain name prefix.
 */
function covers(prefix: string, reference: string): boolean {
  if (!reference.startsWith(prefix)) return false;
  const next = reference.charAt(prefix.length);
  switch (referenceScheme(prefix)) {
    case "env":
      return true;
    case "file":
      return prefix.endsWith("/") || next === "" || next === "/";
    case "vault":
      if (prefix.includes("#")) return next === "";
      return prefix.endsWith("/") || next === "/" || next === "#";
    default:
      return false;
  }
}

/**
 * Why the organization may not use `reference`, or undefined when it may.
 *
 * @example
 * tenantReferenceRefusal("vault:secret/data/tenants/o1/github#key", "o1", ["vault:secret/data/tenants/{org_id}/"]); // undefined
 * tenantReferenceRefusal("env:DATABASE_URL", "o1", ["vault:secret/data/tenants/{org_id}/"]); // "this reference is outside …"
 */
export function tenantReferenceRefusal(reference: string, orgId: string, prefixes: readonly string[]): string | undefined {
  if (referenceScheme(reference) === "raw") return undefined;
  if (prefixes.length === 0) return "secret references are not enabled for organizations on this instance; give the value instead";
  if (!isCanonical(reference)) return "the reference is not in canonical form (no relative segments, repeated slashes or odd names)";
  const allowed = prefixes.map((prefix) => prefix.replaceAll("{org_id}", orgId));
  if (allowed.some((prefix) => covers(prefix, reference))) return undefined;
  return `this reference is outside what this instance allows; it must start with ${allowed.join(" or ")}`;
}

/**
 * Turning a secret as given in the API (a literal value, a secret reference, or nothing: generate one) into the
 * value to store, checked for the route's authentication method.
 *
 * A reference (`env:NAME`, `file:/path`, `vault:path#key`, `raw:value` in development mode) is resolved once,
 * here, so an unresolvable reference is a 400 when the secret is added, never a rejected webhook later. It is
 * fetched before the command's transaction opens (`vault:` is a network call, and no transaction waits on one),
 * and only if the organization may use it (secrets/tenantReferences.ts). The resolved value is stored encrypted
 * like any other; to pick up a changed value, add it as a new secret.
 */
import { decodeSigningSecret, generateSigningSecret } from "../crypto/secrets.ts";
import { referenceScheme, SecretReferenceError, type SecretResolver } from "../secrets/references.ts";
import { tenantReferenceRefusal } from "../secrets/tenantReferences.ts";
import type { IngressAuth } from "./entries.ts";
import { newRouteSecretValue } from "./ids.ts";
import type { SecretSource } from "./routeSecrets.ts";

/** A bad secret input; `field` names the body field (relative to the secret object). */
export class SecretInputError extends Error {
  override readonly name = "SecretInputError";
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ResolvedSecret {
  value: string;
  source: SecretSource;
}

/** Presets whose keys are `whsec_` secrets; their verifiers refuse any other form. */
const WHSEC_PRESETS = new Set(["standard-webhooks", "hookledger-v1"]);
const MAX_SECRET_LENGTH = 4096;

/**
 * The shortest password a basic-auth route takes as a literal. A basic-auth password is the whole credential, sent
 * as is by whoever we gave it to, and tried by anyone who finds the URL: a one-character one was accepted. HMAC keys
 * are chosen by the provider (GitHub lets a user pick any), so they keep any length. A reference (`env:`, `file:`,
 * `vault:`) names a value someone else manages and is taken as it resolves; only a value written into the request
 * (`value`, or `raw:` in development mode) is held to this.
 */
export const MIN_BASIC_PASSWORD_LENGTH = 16;

function needsWhsec(auth: IngressAuth): boolean {
  return auth.type === "hmac" && WHSEC_PRESETS.has(auth.preset);
}

/**
 * Refuses a secret the route's authentication cannot use, naming `field`: when it is added, and for every secret a
 * route holds when its authentication changes (ingressRoutes.ts).
 *
 * @example
 * checkSecretFits("short", "value", { type: "basic", username: "hooks" }, "value"); // throws SecretInputError
 */
export function checkSecretFits(value: string, source: SecretSource, auth: IngressAuth, field: string): void {
  if (value.length === 0 || value.length > MAX_SECRET_LENGTH) throw new SecretInputError(field, `must be 1 to ${MAX_SECRET_LENGTH} characters`);
  if (auth.type === "basic" && (source === "value" || source === "raw") && [...value].length < MIN_BASIC_PASSWORD_LENGTH) {
    throw new SecretInputError(field, `a basic-auth password must be at least ${MIN_BASIC_PASSWORD_LENGTH} characters (omit value and ref to have one generated)`);
  }
  if (!needsWhsec(auth)) return;
  try {
    decodeSigningSecret(value);
  } catch {
    throw new SecretInputError(field, `the ${auth.type === "hmac" ? auth.preset : ""} preset needs a whsec_ secret (whsec_ followed by base64 of 24 to 64 bytes)`);
  }
}

/** A secret's value and where it came from, fetched before any transaction. */
export interface SecretMaterial {
  value: string;
  source: Exclude<SecretSource, "generated">;
}

/**
 * Fetches what a secret input names: its value, what its reference points at, or undefined (generate one).
 *
 * @example
 * await fetchSecretMaterial({ ref: "vault:secret/data/tenants/o1/github#key" }, { orgId: "o1", secrets, allowedReferences });
 * // { value: "…", source: "vault" }
 */
export async function fetchSecretMaterial(
  input: { value?: string | undefined; ref?: string | undefined },
  options: { orgId: string; secrets: SecretResolver; allowedReferences: readonly string[] },
): Promise<SecretMaterial | undefined> {
  if (input.value !== undefined && input.ref !== undefined) throw new SecretInputError("value", "give either value or ref, not both");
  if (input.value !== undefined) return { value: input.value, source: "value" };
  if (input.ref === undefined) return undefined;
  const source = referenceScheme(input.ref);
  if (source === undefined) throw new SecretInputError("ref", "expected a secret reference");
  const refusal = tenantReferenceRefusal(input.ref, options.orgId, options.allowedReferences);
  if (refusal !== undefined) throw new SecretInputError("ref", refusal);
  try {
    return { value: await options.secrets(input.ref), source };
  } catch (error) {
    if (error instanceof SecretReferenceError) throw new SecretInputError("ref", `cannot be resolved: ${error.message}`);
    throw error;
  }
}

/**
 * Checks fetched material against the route's authentication, or generates a secret when there is none.
 *
 * @example
 * resolveSecretInput({ value: "…", source: "vault" }, route.auth); // { value: "…", source: "vault", generated: false }
 */
export function resolveSecretInput(material: SecretMaterial | undefined, auth: IngressAuth): ResolvedSecret & { generated: boolean } {
  if (material !== undefined) {
    checkSecretFits(material.value, material.source, auth, material.source === "value" ? "value" : "ref");
    return { ...material, generated: false };
  }
  if (auth.type === "forward") throw new SecretInputError("value", "forward-auth routes have no secrets");
  const value = needsWhsec(auth) ? generateSigningSecret() : newRouteSecretValue();
  return { value, source: "generated", generated: true };
}

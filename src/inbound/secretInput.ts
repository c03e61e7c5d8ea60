/**
 * Turning a secret as given in the API (a literal value, a secret reference, or nothing: generate one) into the
 * value to store, checked for the route's authentication method.
 *
 * A reference (`env:NAME`, `file:/path`, `raw:value` in development mode) is resolved once, here, so an
 * unresolvable reference is a 400 when the secret is added, never a rejected webhook later. The resolved value is
 * stored encrypted like any other; to pick up a changed value, add it as a new secret.
 */
import { decodeSigningSecret, generateSigningSecret } from "../crypto/secrets.ts";
import { resolveSecretRef, SecretReferenceError } from "../secretRef.ts";
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

function needsWhsec(auth: IngressAuth): boolean {
  return auth.type === "hmac" && WHSEC_PRESETS.has(auth.preset);
}

function checkValue(value: string, auth: IngressAuth, field: string): void {
  if (value.length === 0 || value.length > MAX_SECRET_LENGTH) throw new SecretInputError(field, `must be 1 to ${MAX_SECRET_LENGTH} characters`);
  if (!needsWhsec(auth)) return;
  try {
    decodeSigningSecret(value);
  } catch {
    throw new SecretInputError(field, `the ${auth.type === "hmac" ? auth.preset : ""} preset needs a whsec_ secret (whsec_ followed by base64 of 24 to 64 bytes)`);
  }
}

/**
 * @example
 * resolveSecretInput({ ref: "env:GITHUB_HOOK_SECRET" }, route.auth, { devMode: false });
 * // { value: "…", source: "env" }
 */
export function resolveSecretInput(
  input: { value?: string; ref?: string },
  auth: IngressAuth,
  options: { devMode: boolean; env?: Record<string, string | undefined> },
): ResolvedSecret & { generated: boolean } {
  if (input.value !== undefined && input.ref !== undefined) throw new SecretInputError("value", "give either value or ref, not both");
  if (input.value !== undefined) {
    checkValue(input.value, auth, "value");
    return { value: input.value, source: "value", generated: false };
  }
  if (input.ref !== undefined) {
    let value: string;
    try {
      value = resolveSecretRef(input.ref, options);
    } catch (error) {
      if (error instanceof SecretReferenceError) throw new SecretInputError("ref", `cannot be resolved: ${error.message}`);
      throw error;
    }
    checkValue(value, auth, "ref");
    return { value, source: input.ref.slice(0, input.ref.indexOf(":")) as "env" | "file" | "raw", generated: false };
  }
  if (auth.type === "forward") throw new SecretInputError("value", "forward-auth routes have no secrets");
  const value = needsWhsec(auth) ? generateSigningSecret() : newRouteSecretValue();
  return { value, source: "generated", generated: true };
}

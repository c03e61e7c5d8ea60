/**
 * Authenticating one inbound request by its route's method: an HMAC preset, basic auth, or forward auth. The
 * outcome carries the precise reason for counters and logs; the HTTP answer never does (see routes/receive.ts).
 */
import * as v from "valibot";
import type { EgressClient } from "../egress/client.ts";
import type { IngressRouteRow } from "./routeStore.ts";
import { checkBasicAuth } from "./basicAuth.ts";
import { checkForwardAuth } from "./forwardAuth.ts";
import type { RejectionReason } from "./rejections.ts";
import { DEFAULT_TOLERANCE_SECONDS, genericVerifierConfigSchema, isVerifierPreset, verifierPresets, type VerifierSecret, type VerifyResult } from "./verifiers/presets.ts";

export interface Verification {
  /** `manual`: published by a token holder (POST /v1/ingress-routes/{route_id}/publish), not authenticated here. */
  method: "hmac" | "basic" | "forward" | "manual";
  preset?: string;
  secret_id?: string;
  signed_at?: string;
  /**
   * The subject of the client certificate the connection's TLS handshake verified (mutual TLS listeners), as the
   * entry's meta records it; set when the receipt is recorded (receive.ts), never by an authentication method.
   */
  connection_identity?: string;
}

export type AuthOutcome =
  | { ok: true; verification: Verification; nonce?: { value: string; expiresAt: Date } }
  | { ok: false; status: 401 | 403 | 503; reason: RejectionReason };

export interface RequestToAuthenticate {
  headers: Headers;
  rawBody: Uint8Array;
  method: string;
  path: string;
  clientIp: string;
  scheme: "http" | "https";
}

const refused = (reason: RejectionReason, status: 401 | 403 | 503 = 401): AuthOutcome => ({ ok: false, status, reason });

/**
 * Bodies past this are checked against a route's secrets one at a time, with the event loop let go between them.
 * A forged request (no valid signature needed) cost one HMAC of its whole body per live secret in one go: 10 MiB
 * against 10 secrets held every tenant's requests ~0.4 s at a time (sweep 17). Now it holds them one HMAC long.
 */
const ONE_SECRET_AT_A_TIME_BYTES = 256 * 1024;

/** Lets the event loop run what is waiting before the next secret is tried. */
const letOthersRun = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/**
 * `verify` over every secret: in one call for small bodies, else one secret per call. A verdict that does not
 * depend on the secret (a missing or malformed header, a time out of tolerance) ends the search as it would have.
 */
async function verifyEachSecret(verify: (secrets: readonly VerifierSecret[]) => VerifyResult, secrets: readonly VerifierSecret[], bodyBytes: number): Promise<VerifyResult> {
  if (bodyBytes <= ONE_SECRET_AT_A_TIME_BYTES || secrets.length <= 1) return verify(secrets);
  let mismatched = false;
  for (const [i, secret] of secrets.entries()) {
    if (i > 0) await letOthersRun();
    const verdict = verify([secret]);
    if (verdict.ok) return verdict;
    if (verdict.reason === "signature_mismatch") mismatched = true;
    else if (verdict.reason !== "no_valid_secret") return verdict;
  }
  return { ok: false, reason: mismatched ? "signature_mismatch" : "no_valid_secret" };
}

async function verifySignature(route: IngressRouteRow, secrets: readonly VerifierSecret[], request: RequestToAuthenticate, now: Date): Promise<AuthOutcome> {
  const auth = route.auth;
  if (auth.type !== "hmac" || !isVerifierPreset(auth.preset)) return refused("misconfigured");
  const generic = auth.generic === undefined ? undefined : v.safeParse(genericVerifierConfigSchema, auth.generic);
  if (generic && !generic.success) return refused("misconfigured");
  const toleranceSeconds = auth.tolerance_seconds ?? DEFAULT_TOLERANCE_SECONDS;
  let verdict;
  try {
    const verify = verifierPresets[auth.preset];
    const input = { headers: request.headers, rawBody: request.rawBody, now, toleranceSeconds, ...(generic?.success ? { genericConfig: generic.output } : {}) };
    verdict = await verifyEachSecret((some) => verify({ ...input, secrets: some }), secrets, request.rawBody.byteLength);
  } catch {
    // A stored secret the preset cannot use (e.g. not whsec_ after the preset changed): refuse, never accept.
    return refused("misconfigured");
  }
  if (!verdict.ok) return refused(verdict.reason);
  const verification: Verification = { method: "hmac", preset: auth.preset, secret_id: verdict.secretId };
  if (verdict.signedAt) verification.signed_at = verdict.signedAt.toISOString();
  if (verdict.nonce === undefined) return { ok: true, verification };
  // A replay passes the timestamp check until the signed time is `tolerance` old; schemes that sign no time are
  // remembered for the tolerance from now.
  const expiresAt = new Date((verdict.signedAt ?? now).getTime() + toleranceSeconds * 1000);
  return { ok: true, verification, nonce: { value: verdict.nonce, expiresAt } };
}

/**
 * @example
 * const outcome = await authenticateRequest(ctx.egress, route, secrets, request, ctx.now());
 * if (!outcome.ok) await rejections.count(orgId, { routeId: route.route_id, reason: outcome.reason, at: now });
 */
export async function authenticateRequest(
  egress: EgressClient,
  route: IngressRouteRow,
  secrets: readonly VerifierSecret[],
  request: RequestToAuthenticate,
  now: Date,
): Promise<AuthOutcome> {
  const auth = route.auth;
  switch (auth.type) {
    case "hmac":
      return verifySignature(route, secrets, request, now);
    case "basic": {
      const secretId = checkBasicAuth(request.headers.get("authorization") ?? undefined, auth.username, secrets, now);
      return secretId ? { ok: true, verification: { method: "basic", secret_id: secretId } } : refused("basic_auth_failed");
    }
    case "forward": {
      const verdict = await checkForwardAuth(egress, auth, request, route.org_id);
      if (verdict.kind === "allowed") return { ok: true, verification: { method: "forward" } };
      return verdict.kind === "denied" ? refused("forward_denied", verdict.status) : refused("forward_unavailable", 503);
    }
  }
}

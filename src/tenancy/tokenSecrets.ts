/**
 * API token strings: `hl_<kind>_<43 base62 characters>` (about 256 random bits). The recognisable `hl_` prefix lets
 * secret scanners find leaked tokens; only a SHA-256 hash is stored, which is safe for high-entropy secrets
 * (no salt or slow hash needed: there is nothing to brute-force). A token the operator configures may not be random:
 * it is never stored (configuredAdminToken.ts).
 */
import { createHash } from "node:crypto";
import { randomBase62 } from "../crypto/randomBase62.ts";

export type TokenKind = "instance_admin" | "organization" | "application";

const kindTag: Record<TokenKind, string> = { instance_admin: "adm", organization: "org", application: "app" };
const PREFIX_LENGTH = 12;

export function sha256Hex(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export interface GeneratedToken {
  token: string;
  prefix: string;
  sha256: string;
}

/**
 * @example
 * const { token, prefix, sha256 } = generateApiToken("organization"); // token: "hl_org_3fZ…"
 */
export function generateApiToken(kind: TokenKind): GeneratedToken {
  const token = `hl_${kindTag[kind]}_${randomBase62(43)}`;
  return { token, prefix: token.slice(0, PREFIX_LENGTH), sha256: sha256Hex(token) };
}

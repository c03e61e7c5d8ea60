/**
 * Session cookies and portal links: `hls_<org>_<id>_<secret>` and `hlp_<org>_<id>_<secret>` (org and id as 32
 * hex digits, secret 43 base62 characters, about 256 bits). Naming the organization lets the lookup run inside
 * withTenant under row-level security like every other read, with no cross-tenant role; only the SHA-256 of the
 * whole value is stored (console_secrets), compared in constant time.
 */
import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import type { Queryable } from "../db/connect.ts";
import { randomBase62 } from "../crypto/randomBase62.ts";

export type CredentialKind = "hls" | "hlp";

export interface Credential {
  value: string;
  orgId: string;
  id: string;
}

const hex = (uuid: string) => uuid.replaceAll("-", "");
const uuidOf = (h: string) => `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
const sha256 = (value: string) => createHash("sha256").update(value).digest();

export function mintCredential(kind: CredentialKind, orgId: string): Credential {
  const id = randomUUID();
  return { value: `${kind}_${hex(orgId)}_${hex(id)}_${randomBase62(43)}`, orgId, id };
}

/** The organization and id a credential names, or undefined when it is not of that kind's shape. */
export function parseCredential(kind: CredentialKind, value: string | undefined): Credential | undefined {
  const match = value === undefined ? null : new RegExp(`^${kind}_([0-9a-f]{32})_([0-9a-f]{32})_[0-9A-Za-z]{43}$`).exec(value);
  if (!match?.[1] || !match[2]) return undefined;
  return { value: value as string, orgId: uuidOf(match[1]), id: uuidOf(match[2]) };
}

export async function storeCredentialHash(tx: Queryable, credential: Credential): Promise<void> {
  await tx`insert into hookledger.console_secrets (org_id, secret_for, secret_hash)
           values (hookledger.current_org_id(), ${credential.id}, ${sha256(credential.value)})`;
}

/** Whether the stored hash for the credential's id is the SHA-256 of its value. */
export async function credentialMatches(tx: Queryable, credential: Credential): Promise<boolean> {
  const [row] = await tx<{ secret_hash: Buffer }[]>`
    select secret_hash from hookledger.console_secrets where org_id = hookledger.current_org_id() and secret_for = ${credential.id}`;
  return row !== undefined && timingSafeEqual(Buffer.from(row.secret_hash), sha256(credential.value));
}

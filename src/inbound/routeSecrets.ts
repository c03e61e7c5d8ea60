/**
 * Secrets of ingress routes (HMAC keys, basic-auth passwords), encrypted with AES-256-GCM under the configured
 * keyring. The associated data binds each ciphertext to its route and secret id, so a ciphertext copied onto
 * another row does not decrypt. The ledger records secret ids and validity windows only.
 *
 * Why a validity window instead of "current + previous": senders rotate on their own schedule, and a request is
 * checked against the secrets valid at the time it was *signed*; windows say exactly that, and allow a new
 * secret to be registered before the sender starts using it.
 */
import type { Queryable } from "../db/connect.ts";
import { decryptSecret, encryptSecret } from "../crypto/encryption.ts";
import type { Keyring } from "../crypto/keyring.ts";
import type { VerifierSecret } from "./verifiers/types.ts";
import { groupBy } from "../collections/groupBy.ts";

export type SecretSource = "value" | "generated" | "env" | "file" | "vault" | "raw";

export interface RouteSecretInfo {
  secret_id: string;
  source: SecretSource;
  valid_from: Date;
  valid_until: Date | null;
  created_at: Date;
}

const associatedData = (routeId: string, secretId: string) => `ingress_route:${routeId}:${secretId}`;

export async function storeRouteSecret(
  tx: Queryable,
  keyring: Keyring,
  secret: { routeId: string; secretId: string; value: string; source: SecretSource; validFrom: Date; validUntil: Date | null; createdAt: Date },
): Promise<void> {
  await tx`insert into hookledger.ingress_route_secrets (org_id, route_id, secret_id, ciphertext, source, valid_from, valid_until, created_at)
           values (hookledger.current_org_id(), ${secret.routeId}, ${secret.secretId},
                   ${encryptSecret(secret.value, keyring, associatedData(secret.routeId, secret.secretId))}, ${secret.source},
                   ${secret.validFrom}, ${secret.validUntil}, ${secret.createdAt})`;
}

/** The route's secrets without their values, oldest first. */
export async function listRouteSecrets(tx: Queryable, routeId: string): Promise<RouteSecretInfo[]> {
  return tx<RouteSecretInfo[]>`
    select secret_id, source, valid_from, valid_until, created_at from hookledger.ingress_route_secrets
    where org_id = hookledger.current_org_id() and route_id = ${routeId}
    order by valid_from, created_at, secret_id`;
}

export async function getRouteSecretInfo(tx: Queryable, routeId: string, secretId: string): Promise<RouteSecretInfo | undefined> {
  const [row] = await tx<RouteSecretInfo[]>`
    select secret_id, source, valid_from, valid_until, created_at from hookledger.ingress_route_secrets
    where org_id = hookledger.current_org_id() and route_id = ${routeId} and secret_id = ${secretId}`;
  return row;
}

/** A route secret as stored: its value encrypted, with the window in which it verifies. */
interface SecretRow {
  route_id: string;
  secret_id: string;
  ciphertext: string;
  valid_from: Date;
  valid_until: Date | null;
}

/**
 * The encrypted secrets of one organization's routes not ended before `endedAfter`, outside any transaction: the
 * statement sets the tenant itself (hookledger.ingress_route_secrets_of, sql/060), so it can be sent together with
 * the routes' read in one round trip. Newest first; decrypt with secretsForVerificationFrom.
 */
export async function routeSecretRowsOf(sql: Queryable, orgId: string, routeIds: string[], endedAfter: Date): Promise<SecretRow[]> {
  return sql<SecretRow[]>`
    select route_id, secret_id, ciphertext, valid_from, valid_until
    from hookledger.ingress_route_secrets_of(${orgId}::uuid, ${routeIds}::text[], ${endedAfter}::timestamptz)`;
}

/**
 * The secrets that may verify requests to each route, decrypted, newest first: those not ended before the route's
 * `endedAfter` (a request may be signed up to the route's tolerance ago), from rows read by routeSecretRowsOf.
 * Only those are decrypted. The verifier picks among them by signed time.
 */
export function secretsForVerificationFrom(rows: SecretRow[], keyring: Keyring, routes: { routeId: string; endedAfter: Date }[]): Map<string, VerifierSecret[]> {
  const windows = new Map(routes.map((route) => [route.routeId, route.endedAfter.getTime()]));
  return decryptedByRoute(
    rows.filter((row) => {
      const endedAfter = windows.get(row.route_id);
      return endedAfter !== undefined && (row.valid_until === null || row.valid_until.getTime() > endedAfter);
    }),
    keyring,
  );
}

function decryptedByRoute(rows: SecretRow[], keyring: Keyring): Map<string, VerifierSecret[]> {
  const byRoute = groupBy(rows, (row) => row.route_id);
  return new Map(
    [...byRoute].map(([routeId, routeRows]) => [
      routeId,
      routeRows.map((row): VerifierSecret => ({
        id: row.secret_id,
        value: decryptSecret(row.ciphertext, keyring, associatedData(row.route_id, row.secret_id)),
        validFrom: row.valid_from,
        ...(row.valid_until ? { validUntil: row.valid_until } : {}),
      })),
    ]),
  );
}

export async function setRouteSecretWindow(tx: Queryable, routeId: string, secretId: string, validFrom: Date, validUntil: Date | null): Promise<void> {
  await tx`update hookledger.ingress_route_secrets set valid_from = ${validFrom}, valid_until = ${validUntil}
           where org_id = hookledger.current_org_id() and route_id = ${routeId} and secret_id = ${secretId}`;
}

export async function removeRouteSecret(tx: Queryable, routeId: string, secretId: string): Promise<void> {
  await tx`delete from hookledger.ingress_route_secrets
           where org_id = hookledger.current_org_id() and route_id = ${routeId} and secret_id = ${secretId}`;
}

/** Secrets not yet ended at `at`: what counts against the per-route limit. */
export async function countLiveRouteSecrets(tx: Queryable, routeId: string, at: Date): Promise<number> {
  const [row] = await tx<{ n: number }[]>`
    select count(*)::int as n from hookledger.ingress_route_secrets
    where org_id = hookledger.current_org_id() and route_id = ${routeId} and (valid_until is null or valid_until > ${at})`;
  return row?.n ?? 0;
}

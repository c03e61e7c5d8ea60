/**
 * Secrets of ingress routes (HMAC keys, basic-auth passwords), encrypted with AES-256-GCM under the configured
 * keyring. The associated data binds each ciphertext to its route and secret id, so a ciphertext copied onto
 * another row does not decrypt. The ledger records secret ids and validity windows only.
 *
 * Why a validity window instead of "current + previous": senders rotate on their own schedule, and a request is
 * checked against the secrets valid at the time it was *signed*; windows say exactly that, and allow a new
 * secret to be registered before the sender starts using it.
 */
import type { Queryable, Sql } from "../db/connect.ts";
import { withTenant } from "../db/tenant.ts";
import { decryptSecret, encryptSecret } from "../crypto/encryption.ts";
import type { Keyring } from "../crypto/keyring.ts";
import { addMoves, keyIdSql, noMoves, sampledCensus, REENCRYPTION_BATCH, reencryptSecret, writtenAtSql, type KeyCensus, type MoveCount } from "../crypto/reencryption.ts";
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

/**
 * Moves one organization's route secrets stored under a key other than the keyring's active one to it, every secret
 * (ended ones and deleted routes' too: a window can be reopened, and a leaked old key should open nothing left in the
 * table), REENCRYPTION_BATCH per short transaction. A secret is written only if its ciphertext is still the one read,
 * and only its ciphertext: a window changed meanwhile is kept, a secret removed meanwhile stays removed. Every
 * process's route cache drops a route whose secret moved (sql/074) and reads it again. The ledger is not written: it
 * records secret ids and windows, which do not change.
 */
export async function reencryptRouteSecrets(sql: Sql, keyring: Keyring, orgId: string): Promise<MoveCount> {
  const count = noMoves();
  let after = { routeId: "", secretId: "" };
  for (;;) {
    const batch = await withTenant(sql, orgId, async (tx) => {
      const rows = await tx<{ route_id: string; secret_id: string; ciphertext: string }[]>`
        select route_id, secret_id, ciphertext from hookledger.ingress_route_secrets
        where org_id = hookledger.current_org_id() and (route_id, secret_id) > (${after.routeId}, ${after.secretId})
          and ${tx.unsafe(keyIdSql("ciphertext"))} is distinct from ${keyring.activeKeyId}
        order by route_id, secret_id
        limit ${REENCRYPTION_BATCH}`;
      const results = rows.map((row) => ({ row, result: reencryptSecret(row.ciphertext, keyring, associatedData(row.route_id, row.secret_id)) }));
      const writes = results.flatMap(({ row, result }) => (result === undefined ? [] : [{ ...row, moved: result }]));
      const updated = writes.length === 0 ? { count: 0 } : await tx`
        update hookledger.ingress_route_secrets s set ciphertext = w.moved
        from unnest(${writes.map((w) => w.route_id)}::text[], ${writes.map((w) => w.secret_id)}::text[],
                    ${writes.map((w) => w.ciphertext)}::text[], ${writes.map((w) => w.moved)}::text[]) as w(route_id, secret_id, read, moved)
        where s.org_id = hookledger.current_org_id() and s.route_id = w.route_id and s.secret_id = w.secret_id and s.ciphertext = w.read`;
      return { rows, moves: { moved: updated.count, unopened: rows.length - writes.length } };
    });
    addMoves(count, batch.moves);
    const last = batch.rows.at(-1);
    if (last === undefined || batch.rows.length < REENCRYPTION_BATCH) return count;
    after = { routeId: last.route_id, secretId: last.secret_id };
  }
}

/** The organization's route secrets counted by the keyring key they are stored under. */
export async function routeSecretKeyCensus(tx: Queryable, keyring: Keyring): Promise<KeyCensus> {
  // Each key id's sample (its earliest value, with what it is bound to) comes from the same scan.
  const rows = await tx<{ key_id: string | null; n: number; sample: [string, string, string, string] }[]>`
    select ${tx.unsafe(keyIdSql("ciphertext"))} as key_id, count(*)::int as n,
           min(array[${tx.unsafe(writtenAtSql("created_at"))}, ciphertext, route_id, secret_id]) as sample
    from hookledger.ingress_route_secrets
    where org_id = hookledger.current_org_id() group by 1`;
  return sampledCensus(rows, keyring, ([, , routeId, secretId]) => associatedData(routeId, secretId));
}

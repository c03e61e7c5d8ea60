/**
 * The `reencrypt` command: after a keyring rotation (a new key first in HOOKLEDGER_ENCRYPTION_KEYS, the old ones
 * after it, every process restarted), moves every value encrypted under the keyring to its active key, tenant by
 * tenant through withTenant, each capability walking the tables it owns in short transactions while the service
 * runs; then counts, per kind, the values under each key id, so the operator knows when an old key can be removed,
 * and tries one value per key id and kind with the keyring's key of that id (a key id given to another key would
 * otherwise count as fine). `dryRun` only counts and tries.
 *
 * Only custom header values write the ledger (a `subscription.updated` per subscription, as seal-subscription-headers
 * does: the ledger holds them sealed, and the projection is rebuilt from it). Signing and ingress secrets are not in
 * the ledger, whose entries name secrets by their own ids and windows, none of which change; the keyring is the
 * instance's, not a tenant's fact. The command's output is the operator's record.
 */
import type { AppContext } from "../context.ts";
import type { Queryable } from "../db/connect.ts";
import { SYSTEM_ORG_ID, withTenant } from "../db/tenant.ts";
import { addMoves, addToCensus, emptyCensus, noMoves, type KeyCensus, type MoveCount } from "../crypto/reencryption.ts";
import { tenantsWithEntries } from "../ledger/tenants.ts";
import { reencryptRouteSecrets, routeSecretKeyCensus } from "../inbound/routeSecrets.ts";
import { sealedHeaderKeyCensus, sealSubscriptionHeaders } from "../outbound/headerSealing.ts";
import { reencryptSigningSecrets, signingSecretKeyCensus } from "../outbound/subscriptionSecrets.ts";
import { keptAnswerKeyCensus, reencryptKeptAnswers } from "../tenancy/idempotencyKeys.ts";

interface EncryptedKind {
  /** How the output names the values. */
  name: string;
  move(ctx: AppContext, orgId: string): Promise<MoveCount>;
  census(ctx: AppContext, tx: Queryable): Promise<KeyCensus>;
}

/** Every table a value encrypted under the keyring is kept in (each capability's calls of encryptSecret). */
const ENCRYPTED_KINDS: readonly EncryptedKind[] = [
  { name: "subscription signing secrets", move: (ctx, orgId) => reencryptSigningSecrets(ctx.sql, ctx.keyring, orgId), census: (ctx, tx) => signingSecretKeyCensus(tx, ctx.keyring) },
  { name: "ingress route secrets", move: (ctx, orgId) => reencryptRouteSecrets(ctx.sql, ctx.keyring, orgId), census: (ctx, tx) => routeSecretKeyCensus(tx, ctx.keyring) },
  {
    name: "subscription custom header values",
    move: async (ctx, orgId) => {
      const sealing = await sealSubscriptionHeaders(ctx, orgId);
      return { moved: sealing.values, unopened: sealing.unopened };
    },
    census: (ctx, tx) => sealedHeaderKeyCensus(tx, ctx.keyring),
  },
  { name: "idempotency answers (keys not expired)", move: reencryptKeptAnswers, census: (ctx, tx) => keptAnswerKeyCensus(tx, ctx.keyring, ctx.now()) },
];

export interface KindReport {
  name: string;
  moves: MoveCount;
  /** After the moves (or, in a dry run, as found). */
  census: KeyCensus;
}

export interface ReencryptionReport {
  dryRun: boolean;
  activeKeyId: string;
  keyIds: readonly string[];
  tenants: number;
  kinds: KindReport[];
}

/**
 * Re-encrypts every tenant's values under the active key (unless `dryRun`), then counts them by key id.
 *
 * @example
 * const report = await reencryptAll(ctx, { dryRun: false });
 * const { lines, ok } = describeReencryption(report);
 */
export async function reencryptAll(ctx: AppContext, options: { dryRun: boolean }): Promise<ReencryptionReport> {
  const kinds = ENCRYPTED_KINDS.map((kind): KindReport => ({ name: kind.name, moves: noMoves(), census: emptyCensus() }));
  // The instance-level tenant even without entries of its own: an instance admin's idempotency keys are kept there.
  const tenants = [...new Set([SYSTEM_ORG_ID, ...(await tenantsWithEntries(ctx.sql))])];
  for (const orgId of tenants) {
    for (const [index, kind] of ENCRYPTED_KINDS.entries()) {
      if (!options.dryRun) addMoves(kinds[index]!.moves, await kind.move(ctx, orgId));
    }
    const censuses = await withTenant(ctx.sql, orgId, async (tx) => {
      const found: KeyCensus[] = [];
      for (const kind of ENCRYPTED_KINDS) found.push(await kind.census(ctx, tx));
      return found;
    });
    censuses.forEach((census, index) => mergeCensus(kinds[index]!.census, census));
  }
  return { dryRun: options.dryRun, activeKeyId: ctx.keyring.activeKeyId, keyIds: ctx.keyring.keyIds, tenants: tenants.length, kinds };
}

function mergeCensus(into: KeyCensus, more: KeyCensus): void {
  addToCensus(into, [...more.byKeyId].map(([keyId, n]) => ({ key_id: keyId, n })));
  into.malformed += more.malformed;
  for (const keyId of more.notOpening) into.notOpening.add(keyId);
}

/**
 * The report as the command prints it, and whether it ends well: every value under the active key (a dry run: every
 * value under a key of the keyring), and a value tried under each key id opening with the keyring's key of that id.
 * Key ids are printed, never a value or a key.
 */
export function describeReencryption(report: ReencryptionReport): { lines: string[]; ok: boolean } {
  const { activeKeyId, keyIds } = report;
  const lines = [
    `hookledger: ${report.dryRun ? "counting (dry run) the values" : "re-encrypting the values"} encrypted under the keyring in ${report.tenants} tenant(s); active key ${activeKeyId}`,
  ];
  const missing = new Map<string, number>();
  const notOpening = new Map<string, string[]>();
  let malformed = 0;
  let unopened = 0;
  let remaining = 0;
  for (const kind of report.kinds) {
    const { byKeyId } = kind.census;
    const foreign = [...byKeyId.keys()].filter((keyId) => !keyIds.includes(keyId)).sort();
    const counts = [
      ...keyIds.map((keyId) => `${keyId}${keyId === activeKeyId ? " (active)" : ""} ${byKeyId.get(keyId) ?? 0}`),
      ...foreign.map((keyId) => `${keyId} (NOT IN THE KEYRING) ${byKeyId.get(keyId) ?? 0}`),
      ...(kind.census.malformed > 0 ? [`malformed ${kind.census.malformed}`] : []),
    ];
    const moved = report.dryRun
      ? `would move ${keyIds.filter((keyId) => keyId !== activeKeyId).reduce((sum, keyId) => sum + (byKeyId.get(keyId) ?? 0), 0)}`
      : `moved ${kind.moves.moved}${kind.moves.unopened > 0 ? `, ${kind.moves.unopened} did not open` : ""}`;
    lines.push(`  ${kind.name}: ${moved}; under ${counts.join(", ")}`);
    for (const keyId of foreign) missing.set(keyId, (missing.get(keyId) ?? 0) + (byKeyId.get(keyId) ?? 0));
    for (const keyId of kind.census.notOpening) notOpening.set(keyId, [...(notOpening.get(keyId) ?? []), kind.name]);
    malformed += kind.census.malformed;
    unopened += kind.moves.unopened;
    remaining += keyIds.filter((keyId) => keyId !== activeKeyId).reduce((sum, keyId) => sum + (byKeyId.get(keyId) ?? 0), 0);
  }
  const oldKeys = keyIds.filter((keyId) => keyId !== activeKeyId);
  if (missing.size > 0) {
    const named = [...missing].map(([keyId, n]) => `${n} under ${keyId}`).join(", ");
    lines.push(`hookledger: values under keys not in the keyring (${named}) cannot be opened or moved: put those keys back in HOOKLEDGER_ENCRYPTION_KEYS after the active one, restart, and run reencrypt again`);
  }
  if (notOpening.size > 0) {
    const named = [...notOpening].map(([keyId, kinds]) => `${keyId} (${kinds.join(", ")})`).join(", ");
    lines.push(`hookledger: values under ${named} do not open with the keyring's key of that id: the id now names another key (an old key dropped and its id given to a new one), or they were altered; put the key they were written with back under its id, restart, and run reencrypt again`);
  }
  if (malformed > 0) lines.push(`hookledger: ${malformed} value(s) are not in the encrypted format at all (altered in the database); they cannot be opened with any key`);
  // A malformed value is tried too (it names no key, so none is the active one) and did not open: told above.
  const altered = unopened - malformed;
  if (!report.dryRun && altered > 0 && missing.size === 0) {
    lines.push(`hookledger: ${altered} value(s) did not open with the key they name (altered, or copied from another row) and were left as they are`);
  }
  if (report.dryRun) {
    const ok = missing.size === 0 && malformed === 0 && notOpening.size === 0;
    // "every value is under" only when it is true: values under a key the keyring lacks, malformed or not opening are not (told above).
    if (remaining > 0) lines.push(`hookledger: ${remaining} value(s) would move to ${activeKeyId}; run reencrypt without --dry-run`);
    else if (ok) lines.push(`hookledger: every value is under ${activeKeyId}`);
    return { lines, ok };
  }
  const ok = missing.size === 0 && malformed === 0 && notOpening.size === 0 && remaining === 0;
  if (remaining > 0 && missing.size === 0) {
    lines.push(`hookledger: ${remaining} value(s) are still under ${oldKeys.join(", ")}: a process still running with the old keyring wrote them, or they did not open; restart every process with the new keyring and run reencrypt again`);
  }
  if (ok) {
    lines.push(
      oldKeys.length > 0
        ? `hookledger: every value is under ${activeKeyId}; ${oldKeys.join(", ")} can be removed from HOOKLEDGER_ENCRYPTION_KEYS (then restart every process)`
        : `hookledger: every value is under ${activeKeyId}`,
    );
  }
  return { lines, ok };
}

/**
 * The `seal-subscription-headers` command, and the custom headers' part of `reencrypt`: stores every live
 * subscription's custom headers as a write of them would now (sealedHeaders.ts) — credential-like values kept in
 * clear before sql/087 sealed, and values sealed under an older key sealed again under the keyring's active one, so
 * that key can be dropped from the keyring afterwards.
 *
 * Why a command and not the migration or start-up: SQL has no keyring, so sql/087 cannot seal; and every process
 * that starts would otherwise read every organization's subscriptions to find the few left, then race the others to
 * seal them. Each sealing is a `subscription.updated` entry with the headers (the projection is rebuilt from the
 * ledger, so the ledger must say what the row holds), recorded by the system, with the same values: nothing is
 * published to operational webhooks. Entries recorded before stay as they were: the ledger is append-only.
 * Deleted subscriptions keep their rows as they are: their headers are never opened again.
 */
import type { AppContext } from "../context.ts";
import type { Queryable } from "../db/connect.ts";
import { withTenant } from "../db/tenant.ts";
import { DecryptionError, UnknownKeyError } from "../crypto/errors.ts";
import type { Keyring } from "../crypto/keyring.ts";
import { keyIdSql, sampledCensus, writtenAtSql, type KeyCensus } from "../crypto/reencryption.ts";
import { ANY_VERSION } from "../ledger/append.ts";
import type { EntryMeta } from "../ledger/entryMeta.ts";
import { tenantsWithEntries } from "../ledger/tenants.ts";
import { openHeaders, sealedHeaderAssociatedData, sealHeaders, valuesToSeal } from "./sealedHeaders.ts";
import { subscriptionStream } from "./subscriptions.ts";
import { getSubscriptionForChange } from "./subscriptionStore.ts";

const SEALING_META: EntryMeta = { actor: { kind: "system" }, reason: "custom header values sealed under the keyring's active key" };

/** What sealing one organization's custom headers did. */
export interface HeaderSealing {
  /** Subscriptions whose headers were written anew. */
  subscriptions: number;
  /** Values sealed anew: in clear before, or under another key. */
  values: number;
  /** Values to seal left as they were because a value of their subscription does not open (key not in the keyring, or altered). */
  unopened: number;
}

type Outcome = { sealed: number } | { unopened: number } | undefined;

/** Seals one organization's subscription headers; says how many subscriptions and values it wrote. */
export async function sealSubscriptionHeaders(ctx: AppContext, orgId: string): Promise<HeaderSealing> {
  const candidates = await withTenant(ctx.sql, orgId, (tx) => tx<{ subscription_id: string }[]>`
    select subscription_id from hookledger.subscriptions
    where org_id = hookledger.current_org_id() and deleted_at is null and (headers <> '{}' or sealed_headers <> '{}')
    order by subscription_id`);
  const sealing: HeaderSealing = { subscriptions: 0, values: 0, unopened: 0 };
  // One short transaction per subscription, its row locked as every command locks it: a concurrent PATCH of its
  // headers is decided before or after, never overwritten with what was read before it.
  for (const { subscription_id: subscriptionId } of candidates) {
    const outcome = await withTenant(ctx.sql, orgId, async (tx): Promise<Outcome> => {
      const current = await getSubscriptionForChange(tx, subscriptionId);
      const toSeal = current ? valuesToSeal(ctx.keyring, current) : 0;
      if (!current || toSeal === 0) return undefined;
      let values: Record<string, string>;
      try {
        values = openHeaders(ctx.keyring, subscriptionId, current);
      } catch (error) {
        // Left for the operator to see in the counts (its key back in the keyring, or the header written again).
        if (error instanceof UnknownKeyError || error instanceof DecryptionError) return { unopened: toSeal };
        throw error;
      }
      await ctx.ledger.record(tx, subscriptionStream(subscriptionId), ANY_VERSION, [
        { type: "subscription.updated", data: { subscription_id: subscriptionId, ...sealHeaders(ctx.keyring, subscriptionId, values) }, meta: SEALING_META },
      ]);
      return { sealed: toSeal };
    });
    if (outcome === undefined) continue;
    if ("sealed" in outcome) {
      sealing.subscriptions++;
      sealing.values += outcome.sealed;
    } else sealing.unopened += outcome.unopened;
  }
  return sealing;
}

/** The sealed header values of the organization's live subscriptions counted by the keyring key they are under. */
export async function sealedHeaderKeyCensus(tx: Queryable, keyring: Keyring): Promise<KeyCensus> {
  // Each key id's sample comes from the same scan: a value of the subscription updated longest ago (its values were
  // sealed then or before), with what it is bound to.
  const rows = await tx<{ key_id: string | null; n: number; sample: [string, string, string, string] }[]>`
    select ${tx.unsafe(keyIdSql("sealed.value"))} as key_id, count(*)::int as n,
           min(array[${tx.unsafe(writtenAtSql("s.updated_at"))}, sealed.value, s.subscription_id::text, sealed.key]) as sample
    from hookledger.subscriptions s cross join lateral jsonb_each_text(s.sealed_headers) as sealed
    where s.org_id = hookledger.current_org_id() and s.deleted_at is null group by 1`;
  return sampledCensus(rows, keyring, ([, , subscriptionId, name]) => sealedHeaderAssociatedData(subscriptionId, name));
}

/** `sealSubscriptionHeaders` for every organization with ledger entries. */
export async function sealSubscriptionHeadersForAll(ctx: AppContext): Promise<{ organizations: number } & HeaderSealing> {
  const orgIds = await tenantsWithEntries(ctx.sql);
  const total: HeaderSealing = { subscriptions: 0, values: 0, unopened: 0 };
  for (const orgId of orgIds) {
    const sealing = await sealSubscriptionHeaders(ctx, orgId);
    total.subscriptions += sealing.subscriptions;
    total.values += sealing.values;
    total.unopened += sealing.unopened;
  }
  return { organizations: orgIds.length, ...total };
}


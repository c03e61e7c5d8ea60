/**
 * The `seal-subscription-headers` command: stores every live subscription's custom headers as a write of them would
 * now (sealedHeaders.ts) — credential-like values kept in clear before sql/087 sealed, and values sealed under an
 * older key sealed again under the keyring's active one, so that key can be dropped from the keyring afterwards.
 *
 * Why a command and not the migration or start-up: SQL has no keyring, so sql/087 cannot seal; and every process
 * that starts would otherwise read every organization's subscriptions to find the few left, then race the others to
 * seal them. Each sealing is a `subscription.updated` entry with the headers (the projection is rebuilt from the
 * ledger, so the ledger must say what the row holds), recorded by the system, with the same values: nothing is
 * published to operational webhooks. Entries recorded before stay as they were: the ledger is append-only.
 */
import type { AppContext } from "../context.ts";
import { withInstanceAdmin } from "../db/localRole.ts";
import { withTenant } from "../db/tenant.ts";
import { ANY_VERSION } from "../ledger/append.ts";
import type { EntryMeta } from "../ledger/entryMeta.ts";
import { needsSealing, openHeaders, sealHeaders } from "./sealedHeaders.ts";
import { subscriptionStream } from "./subscriptions.ts";
import { getSubscriptionForChange } from "./subscriptionStore.ts";

const SEALING_META: EntryMeta = { actor: { kind: "system" }, reason: "custom header values sealed under the keyring's active key" };

/** Seals one organization's subscription headers; returns how many subscriptions it wrote. */
export async function sealSubscriptionHeaders(ctx: AppContext, orgId: string): Promise<number> {
  const candidates = await withTenant(ctx.sql, orgId, (tx) => tx<{ subscription_id: string }[]>`
    select subscription_id from hookledger.subscriptions
    where org_id = hookledger.current_org_id() and deleted_at is null and (headers <> '{}' or sealed_headers <> '{}')
    order by subscription_id`);
  let sealed = 0;
  // One short transaction per subscription, its row locked as every command locks it: a concurrent PATCH of its
  // headers is decided before or after, never overwritten with what was read before it.
  for (const { subscription_id: subscriptionId } of candidates) {
    const wrote = await withTenant(ctx.sql, orgId, async (tx) => {
      const current = await getSubscriptionForChange(tx, subscriptionId);
      if (!current || !needsSealing(ctx.keyring, current)) return false;
      const stored = sealHeaders(ctx.keyring, subscriptionId, openHeaders(ctx.keyring, subscriptionId, current));
      await ctx.ledger.record(tx, subscriptionStream(subscriptionId), ANY_VERSION, [
        { type: "subscription.updated", data: { subscription_id: subscriptionId, ...stored }, meta: SEALING_META },
      ]);
      return true;
    });
    if (wrote) sealed++;
  }
  return sealed;
}

/** `sealSubscriptionHeaders` for every organization with ledger entries. */
export async function sealSubscriptionHeadersForAll(ctx: AppContext): Promise<{ organizations: number; subscriptions: number }> {
  const orgIds = await withInstanceAdmin(ctx.sql, async (tx) => {
    const rows = await tx<{ org_id: string }[]>`select distinct org_id from hookledger.ledger_streams order by org_id`;
    return rows.map((row) => row.org_id);
  });
  let subscriptions = 0;
  for (const orgId of orgIds) subscriptions += await sealSubscriptionHeaders(ctx, orgId);
  return { organizations: orgIds.length, subscriptions };
}

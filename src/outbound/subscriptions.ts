/**
 * Subscriptions (endpoints): commands. Each records ledger entries; secrets go to subscription_secrets only.
 * Deleting or disabling a subscription cancels its open deliveries in the same transaction, so history shows
 * them as cancelled at once rather than when their jobs come round. Each change publishes its operational event
 * (endpoint.created, updated, disabled, enabled, deleted) in the same transaction.
 *
 * Every command reads the subscription it decides on with a row lock in the same statement
 * (getSubscriptionForChange), and creation locks the application's row before counting its subscriptions, so
 * concurrent commands are decided one after another, as if sent in turn: one of twenty DELETEs is 204 and records
 * `subscription.deleted`, the rest are 404; a PATCH that waited for a DELETE is 404 and records nothing; the
 * subscriptions-per-application quota holds. Locks go application before subscription.
 */
import { randomUUID } from "node:crypto";
import { namesAChange } from "../collections/namesAChange.ts";
import type { AppContext } from "../context.ts";
import { ProblemError } from "../http/problem.ts";
import type { Tx } from "../db/connect.ts";
import { withTenant } from "../db/tenant.ts";
import { generateSigningSecret } from "../crypto/secrets.ts";
import { ANY_VERSION, STREAM_DOES_NOT_EXIST } from "../ledger/append.ts";
import type { EntryData } from "../ledger/catalogue.ts";
import type { EntryMeta } from "../ledger/entryMeta.ts";
import { getApplicationForChange } from "../tenancy/applications.ts";
import { assertBelowQuota, quotasOf, subscriptionCount } from "../tenancy/quotas.ts";
import { deliveryStream } from "./appends.ts";
import { REDACTED, withStoredValues } from "./headerRedaction.ts";
import { openDeliveries } from "./deliveryStore.ts";
import { publishOperationalEvents } from "./operationalPublish.ts";
import { openHeaders, sealHeaders, type StoredHeaders } from "./sealedHeaders.ts";
import { expireCurrentSecrets, MAX_SIGNING_SECRETS, newSecretKeyId, signingSecretCount, signingSecrets, storeSecret } from "./subscriptionSecrets.ts";
import { getSubscription, getSubscriptionForChange, type SubscriptionRow } from "./subscriptionStore.ts";

export const subscriptionStream = (id: string) => `subscription:${id}`;

type SubscriptionFields = Omit<EntryData<"subscription.created">, "subscription_id" | "app_id" | "enabled" | "key_id" | "sealed_headers">;

export class UnknownApplicationError extends Error {
  override readonly name = "UnknownApplicationError";
}

/**
 * The custom headers a create or update stores: REDACTED values replaced by the values they stand for (opened, only
 * those), then every credential-like value sealed anew under the keyring's active key. A kept value therefore moves
 * to the active key, and one stored in clear before sql/087 is sealed, by any write of the headers.
 */
function headersToStore(ctx: AppContext, subscriptionId: string, given: Record<string, string>, current?: StoredHeaders): StoredHeaders {
  const kept = Object.keys(given).filter((name) => given[name] === REDACTED);
  const stored = current ? openHeaders(ctx.keyring, subscriptionId, current, kept) : {};
  return sealHeaders(ctx.keyring, subscriptionId, withStoredValues(given, stored));
}

export async function createSubscription(
  ctx: AppContext,
  orgId: string,
  input: SubscriptionFields & { appId: string; enabled: boolean; secret?: string },
  meta: EntryMeta,
): Promise<{ subscription: SubscriptionRow; secret: string; headers: Record<string, string> }> {
  const subscriptionId = randomUUID();
  const keyId = newSecretKeyId();
  const secret = input.secret ?? generateSigningSecret();
  const { appId, enabled, secret: _given, channels, ...given } = input;
  const headers = withStoredValues(given.headers, {});
  // Channels only when there are some: a creation without them records what it did before them (sql/091).
  const fields = { ...given, ...(channels ? { channels } : {}), ...sealHeaders(ctx.keyring, subscriptionId, headers) };
  return withTenant(ctx.sql, orgId, async (tx) => {
    // The application's row, locked before counting, makes concurrent creates under it count one after another.
    if (!(await getApplicationForChange(tx, appId))) throw new UnknownApplicationError(appId);
    const quota = (await quotasOf(tx, ctx.config)).subscriptions_per_application;
    assertBelowQuota("subscriptions_per_application", await subscriptionCount(tx, appId), quota);
    await ctx.ledger.record(tx, subscriptionStream(subscriptionId), STREAM_DOES_NOT_EXIST, [
      { type: "subscription.created", data: { subscription_id: subscriptionId, app_id: appId, enabled, key_id: keyId, ...fields }, meta },
    ]);
    await storeSecret(tx, ctx.keyring, subscriptionId, keyId, secret, ctx.now());
    await publishOperationalEvents(ctx, tx, orgId, [
      { type: "endpoint.created", data: { app_id: appId, subscription_id: subscriptionId, event_types: fields.event_types, enabled } },
    ], meta);
    return { subscription: (await getSubscription(tx, subscriptionId)) as SubscriptionRow, secret, headers };
  });
}

export async function updateSubscription(
  ctx: AppContext,
  orgId: string,
  subscriptionId: string,
  asked: Partial<SubscriptionFields>,
  meta: EntryMeta,
): Promise<SubscriptionRow | undefined> {
  return withTenant(ctx.sql, orgId, async (tx) => {
    const current = await getSubscriptionForChange(tx, subscriptionId);
    if (!current) return undefined;
    // Headers sent back as shown keep their stored values (headerRedaction.ts); credential-like ones are sealed.
    const changes = asked.headers ? { ...asked, ...headersToStore(ctx, subscriptionId, asked.headers, current) } : asked;
    if (!namesAChange(changes)) return getSubscription(tx, subscriptionId);
    // A new URL is a new endpoint: an open circuit, opened by the old one's failures, closes with the change.
    const closesCircuit = changes.url !== undefined && changes.url !== current.url && current.circuit_state === "open";
    await ctx.ledger.record(tx, subscriptionStream(subscriptionId), ANY_VERSION, [
      { type: "subscription.updated", data: { subscription_id: subscriptionId, ...changes }, meta },
      ...(closesCircuit ? [{ type: "subscription.circuit_closed" as const, data: { subscription_id: subscriptionId }, meta }] : []),
    ]);
    // sealed_headers is how headers are stored, not a field of the API: the change is named "headers".
    const changed = Object.keys(changes).filter((key) => key !== "sealed_headers" && changes[key as keyof typeof changes] !== undefined).sort();
    const endpoint = { app_id: current.app_id, subscription_id: subscriptionId };
    await publishOperationalEvents(
      ctx,
      tx,
      orgId,
      [{ type: "endpoint.updated", data: { ...endpoint, changed } }, ...(closesCircuit ? [{ type: "endpoint.circuit_closed" as const, data: endpoint }] : [])],
      meta,
    );
    return getSubscription(tx, subscriptionId);
  });
}

/** Appends delivery.cancelled for every open delivery of the subscription. */
export async function cancelOpenDeliveries(ctx: AppContext, tx: Tx, subscriptionId: string, reason: string, meta: EntryMeta): Promise<number> {
  const open = await openDeliveries(tx, subscriptionId);
  await ctx.ledger.recordMany(
    tx,
    open.map(({ delivery_id, app_id }) => ({
      stream: deliveryStream(delivery_id),
      expectedStreamVersion: ANY_VERSION,
      entries: [{ type: "delivery.cancelled", data: { delivery_id, app_id, reason }, meta }],
    })),
  );
  return open.length;
}

export async function setSubscriptionEnabled(
  ctx: AppContext,
  orgId: string,
  subscriptionId: string,
  enabled: boolean,
  meta: EntryMeta,
): Promise<SubscriptionRow | undefined> {
  return withTenant(ctx.sql, orgId, async (tx) => {
    const current = await getSubscriptionForChange(tx, subscriptionId);
    if (!current) return undefined;
    if (current.enabled !== enabled) {
      const entry = enabled
        ? ({ type: "subscription.enabled", data: { subscription_id: subscriptionId }, meta } as const)
        : ({ type: "subscription.disabled", data: { subscription_id: subscriptionId, reason: "manual" }, meta } as const);
      await ctx.ledger.record(tx, subscriptionStream(subscriptionId), ANY_VERSION, [entry]);
      if (!enabled) await cancelOpenDeliveries(ctx, tx, subscriptionId, "subscription disabled", meta);
      const endpoint = { app_id: current.app_id, subscription_id: subscriptionId };
      await publishOperationalEvents(ctx, tx, orgId, [
        enabled
          ? { type: "endpoint.enabled", data: endpoint }
          : { type: "endpoint.disabled", data: { ...endpoint, reason: "manual", consecutive_failures: current.consecutive_failures, delivery_id: null, last_status_code: null, last_error_class: null } },
      ], meta);
    }
    return getSubscription(tx, subscriptionId);
  });
}

export async function deleteSubscription(ctx: AppContext, orgId: string, subscriptionId: string, meta: EntryMeta): Promise<boolean> {
  return withTenant(ctx.sql, orgId, async (tx) => {
    const current = await getSubscriptionForChange(tx, subscriptionId);
    if (!current) return false;
    await ctx.ledger.record(tx, subscriptionStream(subscriptionId), ANY_VERSION, [{ type: "subscription.deleted", data: { subscription_id: subscriptionId }, meta }]);
    await cancelOpenDeliveries(ctx, tx, subscriptionId, "subscription deleted", meta);
    await publishOperationalEvents(ctx, tx, orgId, [{ type: "endpoint.deleted", data: { app_id: current.app_id, subscription_id: subscriptionId } }], meta);
    return true;
  });
}

/**
 * An application is being deleted, and its subscriptions with it (the application.deleted entry ends them):
 * announce each live one as endpoint.deleted, as deleting it alone would.
 */
export async function announceEndpointsOfDeletedApplication(ctx: AppContext, tx: Tx, orgId: string, appId: string, meta: EntryMeta): Promise<void> {
  const live = await tx<{ subscription_id: string }[]>`
    select subscription_id from hookledger.subscriptions
    where org_id = hookledger.current_org_id() and app_id = ${appId} and deleted_at is null order by created_at, subscription_id`;
  await publishOperationalEvents(ctx, tx, orgId, live.map((row) => ({ type: "endpoint.deleted" as const, data: { app_id: appId, subscription_id: row.subscription_id } })), meta);
}

/**
 * Rotates the signing secret. Until `overlapSeconds` have passed, deliveries are signed with both the old and
 * the new secret, so receivers can switch at their own pace. The ledger records key ids, never secrets.
 */
export async function rotateSubscriptionSecret(
  ctx: AppContext,
  orgId: string,
  subscriptionId: string,
  input: { overlapSeconds: number; secret?: string },
  meta: EntryMeta,
): Promise<{ keyId: string; secret: string; previousExpiresAt: Date | null } | undefined> {
  return withTenant(ctx.sql, orgId, async (tx) => {
    if (!(await getSubscriptionForChange(tx, subscriptionId))) return undefined;
    const now = ctx.now();
    if (input.overlapSeconds > 0 && (await signingSecretCount(tx, subscriptionId, now)) >= MAX_SIGNING_SECRETS) {
      throw new ProblemError(
        "conflict",
        `${MAX_SIGNING_SECRETS} secrets already sign this subscription's deliveries (the current one and those in a rotation's overlap): rotate with overlap_seconds 0, or once an overlap has ended`,
      );
    }
    const previousExpiresAt = new Date(now.getTime() + input.overlapSeconds * 1000);
    const previousKeyId = await expireCurrentSecrets(tx, subscriptionId, previousExpiresAt);
    const keyId = newSecretKeyId();
    const secret = input.secret ?? generateSigningSecret();
    await storeSecret(tx, ctx.keyring, subscriptionId, keyId, secret, now);
    await ctx.ledger.record(tx, subscriptionStream(subscriptionId), ANY_VERSION, [
      {
        type: "subscription.secret_rotated",
        data: { subscription_id: subscriptionId, key_id: keyId, previous_key_id: previousKeyId, previous_expires_at: previousKeyId ? previousExpiresAt.toISOString() : null },
        meta,
      },
    ]);
    return { keyId, secret, previousExpiresAt: previousKeyId ? previousExpiresAt : null };
  });
}

/** Returns the current signing secret; every reveal is an audited ledger entry. */
export async function revealSubscriptionSecret(
  ctx: AppContext,
  orgId: string,
  subscriptionId: string,
  meta: EntryMeta,
): Promise<{ keyId: string; secret: string } | undefined> {
  return withTenant(ctx.sql, orgId, async (tx) => {
    if (!(await getSubscriptionForChange(tx, subscriptionId))) return undefined;
    const [current] = await signingSecrets(tx, ctx.keyring, subscriptionId, ctx.now());
    if (!current) return undefined;
    await ctx.ledger.record(tx, subscriptionStream(subscriptionId), ANY_VERSION, [
      { type: "subscription.secret_revealed", data: { subscription_id: subscriptionId, key_id: current.keyId }, meta },
    ]);
    return { keyId: current.keyId, secret: current.secret };
  });
}

/**
 * Everything a batch of incoming events must be checked against, read with one statement per table and sent
 * together (postgres.js pipelines statements issued without awaiting each other), so a batch pays one round trip
 * for its reads whatever its size.
 */
import type { Tx } from "../db/connect.ts";
import type { Quotas } from "../tenancy/quotas.ts";
import { eventsTodayForBatch, quotasOf } from "../tenancy/quotas.ts";
import type { Config } from "../config.ts";
import { groupBy } from "../collections/groupBy.ts";

export interface TargetSubscription {
  subscription_id: string;
  app_id: string;
  event_types: string[];
  labels: Record<string, string>;
  /** null: events whatever their channels. */
  channels: string[] | null;
}

export interface IngestLookups {
  liveApps: Set<string>;
  /** uid → the live application that has it, for the uids the batch's producers named applications by. */
  appIdsByUid: Map<string, string>;
  /** `${app_id} ${name}` → the type's schema and deprecation. */
  eventTypes: Map<string, { schema: Record<string, unknown> | null; deprecated: boolean }>;
  /** Events already accepted under a requested event_id: their request fingerprint and fan-out count. */
  existing: Map<string, { fingerprint: string; deliveries_scheduled: number }>;
  subscriptionsByApp: Map<string, TargetSubscription[]>;
  quotas: Quotas;
  eventsToday: number;
}

export const eventTypeKey = (appId: string, name: string) => `${appId} ${name}`;

export async function readIngestLookups(
  tx: Tx,
  config: Config,
  now: Date,
  wanted: { appIds: string[]; uids: string[]; types: { appId: string; name: string }[]; eventIds: string[] },
): Promise<IngestLookups> {
  const [apps, uidApps, types, existing, subscriptions, quotas] = await Promise.all([
    tx<{ app_id: string }[]>`
      select app_id from hookledger.applications
      where org_id = hookledger.current_org_id() and app_id = any(${wanted.appIds}::uuid[]) and deleted_at is null and not operational`,
    wanted.uids.length === 0
      ? Promise.resolve([])
      : tx<{ uid: string; app_id: string }[]>`
      select uid, app_id from hookledger.applications
      where org_id = hookledger.current_org_id() and uid = any(${wanted.uids}::text[]) and deleted_at is null`,
    tx<{ app_id: string; name: string; schema: Record<string, unknown> | null; deprecated: boolean }[]>`
      select t.app_id, t.name, t.schema, t.deprecated from hookledger.event_types t
      join unnest(${wanted.types.map((type) => type.appId)}::uuid[], ${wanted.types.map((type) => type.name)}::text[]) as w(app_id, name)
        on t.app_id = w.app_id and t.name = w.name
      where t.org_id = hookledger.current_org_id() and t.deleted_at is null`,
    wanted.eventIds.length === 0
      ? Promise.resolve([])
      : // By key, one lookup per id: with `event_id = any($ids)` PostgreSQL 18 may skip-scan the events list index,
        // whose last column is event_id, over the organization's whole history (see outbound/attemptLoad.ts).
        tx<{ event_id: string; request_fingerprint: string; deliveries_scheduled: number }[]>`
      select e.event_id, e.request_fingerprint, e.deliveries_scheduled
      from unnest(${wanted.eventIds}::text[]) as wanted(id)
      cross join lateral (
        select event_id, request_fingerprint, deliveries_scheduled from hookledger.events
        where org_id = hookledger.current_org_id() and event_id = wanted.id limit 1
      ) e`,
    tx<TargetSubscription[]>`
      select subscription_id, app_id, event_types, labels, channels from hookledger.subscriptions
      where org_id = hookledger.current_org_id() and app_id = any(${wanted.appIds}::uuid[]) and enabled and deleted_at is null`,
    quotasOf(tx, config),
  ]);
  // After the quota is known: near it, this read waits for the other batches deciding on it (sql/082).
  const today = await eventsTodayForBatch(tx, now, quotas.events_per_day, wanted.types.length);
  const subscriptionsByApp = groupBy(subscriptions, (subscription) => subscription.app_id);
  return {
    liveApps: new Set(apps.map((row) => row.app_id)),
    appIdsByUid: new Map(uidApps.map((row) => [row.uid, row.app_id])),
    eventTypes: new Map(types.map((row) => [eventTypeKey(row.app_id, row.name), { schema: row.schema, deprecated: row.deprecated }])),
    existing: new Map(existing.map((row) => [row.event_id, { fingerprint: row.request_fingerprint, deliveries_scheduled: row.deliveries_scheduled }])),
    subscriptionsByApp,
    quotas,
    eventsToday: today,
  };
}

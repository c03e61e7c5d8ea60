/**
 * What decides a batch of incoming events — live applications (producers may not post to an organization's
 * operational application), which of them has a uid a producer names one by, their event types and enabled
 * subscriptions, the organization's quotas — kept in memory per organization with the fan-out version it was read
 * at. Giving, moving or clearing a uid bumps that version as deleting an application does (sql/089), and changing a
 * subscription's channels as changing its event types does (sql/091).
 *
 * Why it may be stale without harm: the fast ingest path hands the version to `hookledger.ingest_batch`, which
 * refuses the batch when any change has bumped it since (sql/031), and a batch this memory would refuse is
 * decided again on fresh reads. The memory only ever saves reads; it never decides alone.
 */
import type { AppContext } from "../context.ts";
import { withTenant } from "../db/tenant.ts";
import { effectiveQuotas, type Quotas } from "../tenancy/quotas.ts";
import { eventTypeKey, type TargetSubscription } from "./ingestLookups.ts";
import { groupBy } from "../collections/groupBy.ts";

export interface OrganizationFanout {
  /** The organization's fan-out version these rows were read at (bigint as text). */
  version: string;
  quotas: Quotas;
  /** Applications whose rows are loaded (live or not). */
  loadedApps: Set<string>;
  liveApps: Set<string>;
  /** Uids whose application is loaded (whether one has it or not). */
  loadedUids: Set<string>;
  /** uid → the live application that has it, for the loaded uids. */
  appIdsByUid: Map<string, string>;
  /** `${app_id} ${name}` → the type's schema and deprecation. */
  eventTypes: Map<string, { schema: Record<string, unknown> | null; deprecated: boolean }>;
  subscriptionsByApp: Map<string, TargetSubscription[]>;
  loadedAt: number;
}

/** Organizations kept; the least recently used goes first. */
const MAX_ORGANIZATIONS = 10_000;
/** Applications kept per organization before its memory starts over. */
const MAX_APPS_PER_ORGANIZATION = 1_000;

interface LoadedRows {
  version: string;
  quotas: Partial<Quotas> | null;
  apps: string[];
  uid_apps: { uid: string; app_id: string }[];
  event_types: { app_id: string; name: string; schema: Record<string, unknown> | null; deprecated: boolean }[];
  subscriptions: TargetSubscription[];
}

export class FanoutCache {
  private readonly organizations = new Map<string, OrganizationFanout>();

  constructor(private readonly ctx: AppContext) {}

  /**
   * The organization's fan-out with at least `appIds` and the applications of `uids` loaded, read from the database
   * for what is missing.
   */
  async of(orgId: string, appIds: string[], uids: readonly string[] = []): Promise<OrganizationFanout> {
    const known = this.organizations.get(orgId);
    const missing = known ? appIds.filter((appId) => !known.loadedApps.has(appId)) : appIds;
    const missingUids = known ? uids.filter((uid) => !known.loadedUids.has(uid)) : uids;
    if (known && missing.length === 0 && missingUids.length === 0) {
      this.organizations.delete(orgId);
      this.organizations.set(orgId, known);
      return known;
    }
    // Every application of the batch is read: if the version moved, what was kept for the others is out of date.
    const rows = await this.load(orgId, appIds, uids);
    const reuse =
      known !== undefined &&
      known.version === rows.version &&
      known.loadedApps.size + missing.length <= MAX_APPS_PER_ORGANIZATION &&
      known.loadedUids.size + missingUids.length <= MAX_APPS_PER_ORGANIZATION;
    const fanout = reuse ? known : this.empty(rows);
    for (const uid of reuse ? missingUids : uids) fanout.loadedUids.add(uid);
    for (const { uid, app_id } of rows.uid_apps) fanout.appIdsByUid.set(uid, app_id);
    const fresh = new Set(reuse ? missing : appIds);
    for (const appId of fresh) fanout.loadedApps.add(appId);
    for (const appId of rows.apps) if (fresh.has(appId)) fanout.liveApps.add(appId);
    for (const type of rows.event_types) {
      if (fresh.has(type.app_id)) fanout.eventTypes.set(eventTypeKey(type.app_id, type.name), { schema: type.schema, deprecated: type.deprecated });
    }
    const freshSubscriptions = rows.subscriptions.filter((subscription) => fresh.has(subscription.app_id));
    for (const [appId, subscriptions] of groupBy(freshSubscriptions, (subscription) => subscription.app_id)) fanout.subscriptionsByApp.set(appId, subscriptions);
    this.organizations.delete(orgId);
    this.organizations.set(orgId, fanout);
    if (this.organizations.size > MAX_ORGANIZATIONS) {
      const oldest = this.organizations.keys().next().value;
      if (oldest !== undefined) this.organizations.delete(oldest);
    }
    return fanout;
  }

  /** Forgets the organization: its next batch reads again. */
  forget(orgId: string): void {
    this.organizations.delete(orgId);
  }

  /** Forgets the organization if what is kept is older than `ageMs`. */
  forgetIfOlderThan(orgId: string, ageMs: number): void {
    const known = this.organizations.get(orgId);
    if (known && this.ctx.now().getTime() - known.loadedAt > ageMs) this.organizations.delete(orgId);
  }

  private empty(rows: LoadedRows): OrganizationFanout {
    return {
      version: rows.version,
      quotas: effectiveQuotas(this.ctx.config, rows.quotas),
      loadedApps: new Set(),
      liveApps: new Set(),
      loadedUids: new Set(),
      appIdsByUid: new Map(),
      eventTypes: new Map(),
      subscriptionsByApp: new Map(),
      loadedAt: this.ctx.now().getTime(),
    };
  }

  /** One statement, so the version and the rows come from one snapshot. */
  private async load(orgId: string, appIds: string[], uids: readonly string[]): Promise<LoadedRows> {
    const [row] = await withTenant(this.ctx.sql, orgId, (tx) => tx<LoadedRows[]>`
      select
        coalesce((select f.version from hookledger.fanout_versions f where f.org_id = hookledger.current_org_id()), 0)::text as version,
        (select o.quotas from hookledger.organizations o where o.org_id = hookledger.current_org_id()) as quotas,
        coalesce((select json_agg(a.app_id) from hookledger.applications a
                  where a.org_id = hookledger.current_org_id() and a.app_id = any(${appIds}::uuid[]) and a.deleted_at is null and not a.operational), '[]') as apps,
        coalesce((select json_agg(json_build_object('uid', a.uid, 'app_id', a.app_id)) from hookledger.applications a
                  where a.org_id = hookledger.current_org_id() and a.uid = any(${uids as string[]}::text[]) and a.deleted_at is null), '[]') as uid_apps,
        coalesce((select json_agg(json_build_object('app_id', t.app_id, 'name', t.name, 'schema', t.schema, 'deprecated', t.deprecated))
                  from hookledger.event_types t
                  where t.org_id = hookledger.current_org_id() and t.app_id = any(${appIds}::uuid[]) and t.deleted_at is null), '[]') as event_types,
        coalesce((select json_agg(json_build_object('subscription_id', s.subscription_id, 'app_id', s.app_id, 'event_types', s.event_types, 'labels', s.labels,
                                                   'channels', s.channels)
                  order by s.created_at, s.subscription_id)
                  from hookledger.subscriptions s
                  where s.org_id = hookledger.current_org_id() and s.app_id = any(${appIds}::uuid[]) and s.enabled and s.deleted_at is null), '[]') as subscriptions`);
    if (!row) throw new Error("fan-out load returned no row");
    return row;
  }
}

const caches = new WeakMap<AppContext, FanoutCache>();

/** The process's fan-out memory (one per context: tests that build several contexts get one each). */
export function fanoutCacheOf(ctx: AppContext): FanoutCache {
  let cache = caches.get(ctx);
  if (!cache) {
    cache = new FanoutCache(ctx);
    caches.set(ctx, cache);
  }
  return cache;
}

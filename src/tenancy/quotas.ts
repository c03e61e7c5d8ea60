/**
 * Per-organization quotas: defaults from configuration, overrides set by the instance admin. Count quotas
 * (applications, subscriptions per application) answer 403 `quota-exceeded`; the daily event quota is a rate and
 * answers 429 with `Retry-After` until the next UTC midnight.
 */
import type { Config } from "../config.ts";
import type { Queryable, Tx } from "../db/connect.ts";
import { ProblemError } from "../http/problem.ts";

export const QUOTA_NAMES = ["events_per_day", "applications", "subscriptions_per_application", "ingress_routes"] as const;
export type QuotaName = (typeof QUOTA_NAMES)[number];
export type Quotas = Record<QuotaName, number>;

/**
 * The largest value a quota may be set to: the largest integer a JSON number carries exactly
 * (Number.MAX_SAFE_INTEGER, about 9.007e15), so "practically unlimited" can still be written. Every quota is held
 * and compared as a JavaScript number, and `events_per_day` also reaches `hookledger.ingest_batch` as a `bigint`
 * (where today's count plus a batch is compared with it): a larger value (1e20, 9223372036854775807) was stored,
 * then made every POST /v1/events of the organization answer 500 (bigint out of range), and above 2^53 it is not
 * even the number that was sent.
 */
export const MAX_QUOTA = Number.MAX_SAFE_INTEGER;

/**
 * The effective quotas from the instance defaults and an organization's stored overrides. An override stored before
 * overrides were bounded (above MAX_QUOTA, or not a whole number) is read as MAX_QUOTA or ignored, so it cannot
 * reach the database out of range.
 *
 * @example
 * effectiveQuotas(config, { events_per_day: 1e20 }).events_per_day; // MAX_QUOTA
 */
export function effectiveQuotas(config: Config, overrides: Partial<Record<string, unknown>> | null | undefined): Quotas {
  const quotas = defaultQuotas(config);
  for (const name of QUOTA_NAMES) {
    const value = overrides?.[name];
    if (typeof value === "number" && Number.isInteger(value) && value >= 0) quotas[name] = Math.min(value, MAX_QUOTA);
  }
  return quotas;
}

export function defaultQuotas(config: Config): Quotas {
  return {
    events_per_day: config.HOOKLEDGER_QUOTA_EVENTS_PER_DAY,
    applications: config.HOOKLEDGER_QUOTA_APPLICATIONS,
    subscriptions_per_application: config.HOOKLEDGER_QUOTA_SUBSCRIPTIONS_PER_APPLICATION,
    ingress_routes: config.HOOKLEDGER_QUOTA_INGRESS_ROUTES,
  };
}

/** The tenant's effective quotas (overrides on top of the defaults). */
export async function quotasOf(tx: Queryable, config: Config): Promise<Quotas> {
  const [row] = await tx<{ quotas: Partial<Quotas> }[]>`
    select quotas from hookledger.organizations where org_id = hookledger.current_org_id()`;
  return effectiveQuotas(config, row?.quotas);
}

/** The UTC day `now` falls in, as the usage counters key it. */
export const utcDay = (now: Date) => now.toISOString().slice(0, 10);

export async function eventsToday(tx: Queryable, now: Date): Promise<number> {
  const [row] = await tx<{ n: string | null }[]>`
    select sum(events)::text as n from hookledger.usage_counters where org_id = hookledger.current_org_id() and day = ${utcDay(now)}::date`;
  return Number(row?.n ?? 0);
}

/**
 * Events accepted today, read for a batch of `batch` events about to be decided against `limit`: near the limit,
 * under the (organization, day) lock held to commit (sql/082), so concurrent batches decide one after another.
 */
export async function eventsTodayForBatch(tx: Queryable, now: Date, limit: number, batch: number): Promise<number> {
  const [row] = await tx<{ n: string }[]>`
    select hookledger.events_today(hookledger.current_org_id(), ${utcDay(now)}::date, ${limit}::bigint, ${batch}::int)::text as n`;
  return Number(row?.n ?? 0);
}

/** The 429 answered once today's event quota is used up, with `Retry-After` until the next UTC midnight. */
export function eventQuotaExceeded(limit: number, now: Date): ProblemError {
  const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
  const retryAfter = Math.max(1, Math.ceil((midnight - now.getTime()) / 1000));
  return new ProblemError("rate-limited", `the organization's quota of ${limit} events per day is used up`, {
    quota: "events_per_day",
    limit,
    headers: { "Retry-After": String(retryAfter) },
    retry_after_seconds: retryAfter,
  });
}

/** How many rows a tenant's day is counted in (sql/011). */
const USAGE_SHARDS = 8;

/** A usage-counter shard picked at random (see sql/011 for why there are eight). */
const usageShard = () => Math.floor(Math.random() * USAGE_SHARDS);

const writerShards = new WeakMap<object, number>();
let nextWriterShard = usageShard();

/**
 * The usage-counter shard of a writer that commits one batch at a time (an ingest lane): the lanes a process opens
 * take the shards in turn from a random start, so two lanes of one organization never wait for each other's
 * counter row, as two picked at random did one flush in eight (scenario 2 at F=100 runs two lanes).
 */
export function shardOf(writer: object): number {
  let shard = writerShards.get(writer);
  if (shard === undefined) {
    shard = nextWriterShard;
    nextWriterShard = (nextWriterShard + 1) % USAGE_SHARDS;
    writerShards.set(writer, shard);
  }
  return shard;
}

/**
 * Counts accepted events, one statement per batch. Call it last in the ingest transaction: the counter row stays
 * locked until commit, so taking it early made concurrent ingests of one tenant queue behind each other's
 * appends (measured). Eight shards spread concurrent batches over eight rows.
 */
export async function countEvents(tx: Tx, now: Date, count: number): Promise<void> {
  if (count === 0) return;
  await tx`
    insert into hookledger.usage_counters (org_id, day, shard, events)
    values (hookledger.current_org_id(), ${utcDay(now)}::date, ${usageShard()}, ${count})
    on conflict (org_id, day, shard) do update set events = hookledger.usage_counters.events + excluded.events`;
}

export async function applicationCount(tx: Queryable): Promise<number> {
  const [row] = await tx<{ n: number }[]>`
    select count(*)::int as n from hookledger.applications where org_id = hookledger.current_org_id() and deleted_at is null and not operational`;
  return row?.n ?? 0;
}

export async function subscriptionCount(tx: Queryable, appId: string): Promise<number> {
  const [row] = await tx<{ n: number }[]>`
    select count(*)::int as n from hookledger.subscriptions where org_id = hookledger.current_org_id() and app_id = ${appId} and deleted_at is null`;
  return row?.n ?? 0;
}

export async function ingressRouteCount(tx: Queryable): Promise<number> {
  const [row] = await tx<{ n: number }[]>`
    select count(*)::int as n from hookledger.ingress_routes where org_id = hookledger.current_org_id() and deleted_at is null`;
  return row?.n ?? 0;
}

/** Throws 403 quota-exceeded when `current` already reaches the quota. */
export function assertBelowQuota(quota: QuotaName, current: number, limit: number): void {
  if (current >= limit) {
    throw new ProblemError("quota-exceeded", `the organization's ${quota} quota (${limit}) is reached`, { quota, limit });
  }
}

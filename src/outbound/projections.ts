/**
 * Outbound projections: event types, subscriptions (with endpoint health), events, deliveries and attempts.
 * Runs of one entry type are applied with one set-based statement each (see ledger/runs.ts).
 */
import type { Tx } from "../db/connect.ts";
import type { RecordedEntry } from "../ledger/catalogue.ts";
import { defineProjection } from "../ledger/projection.ts";
import { applyRuns, entryRows, lastPerKey, type EntryOf } from "../ledger/runs.ts";


export const eventTypesProjection = defineProjection({
  name: "event_types",
  handles: ["event_type.created", "event_type.updated", "event_type.deleted", "application.deleted"],
  tables: ["hookledger.event_types"],
  apply: (tx, entries) =>
    applyRuns(tx, entries, async (tx, type, run) => {
      for (const entry of run) {
        const at = entry.recordedAt;
        if (type === "event_type.created") {
          const d = (entry as EntryOf<"event_type.created">).data;
          // A deleted event type's name may be created again.
          await tx`insert into hookledger.event_types (org_id, app_id, name, description, schema, deprecated, created_at, updated_at)
                   values (${entry.orgId}, ${d.app_id}, ${d.name}, ${d.description}, ${d.schema ? tx.json(d.schema as never) : null}, ${d.deprecated}, ${at}, ${at})
                   on conflict (org_id, app_id, name) do update set description = excluded.description, schema = excluded.schema,
                     deprecated = excluded.deprecated, created_at = excluded.created_at, updated_at = excluded.updated_at, deleted_at = null`;
        } else if (type === "event_type.updated") {
          const d = (entry as EntryOf<"event_type.updated">).data;
          await tx`update hookledger.event_types set
                     description = case when ${d.description !== undefined} then ${d.description ?? null} else description end,
                     schema = case when ${d.schema !== undefined} then ${d.schema ? tx.json(d.schema as never) : null}::jsonb else schema end,
                     deprecated = coalesce(${d.deprecated ?? null}, deprecated),
                     updated_at = ${at}
                   where org_id = ${entry.orgId} and app_id = ${d.app_id} and name = ${d.name}`;
        } else if (type === "event_type.deleted") {
          const d = (entry as EntryOf<"event_type.deleted">).data;
          await tx`update hookledger.event_types set deleted_at = ${at}, updated_at = ${at}
                   where org_id = ${entry.orgId} and app_id = ${d.app_id} and name = ${d.name}`;
        } else {
          const d = (entry as EntryOf<"application.deleted">).data;
          await tx`update hookledger.event_types set deleted_at = ${at}, updated_at = ${at}
                   where org_id = ${entry.orgId} and app_id = ${d.app_id} and deleted_at is null`;
        }
      }
    }),
  clear: async (tx) => {
    await tx`delete from hookledger.event_types where org_id = hookledger.current_org_id()`;
  },
});

async function applySubscriptionEntry(tx: Tx, entry: RecordedEntry): Promise<void> {
  const at = entry.recordedAt;
  switch (entry.type) {
    case "subscription.created": {
      const d = entry.data;
      await tx`insert into hookledger.subscriptions (org_id, subscription_id, app_id, url, event_types, labels, headers, sealed_headers, description,
                 metadata, enabled, signature_scheme, signed_headers, retry_schedule, max_attempts, timeout_ms, max_concurrency, rate_limit_per_second,
                 send_traceparent, channels, created_at, updated_at)
               values (${entry.orgId}, ${d.subscription_id}, ${d.app_id}, ${d.url}, ${d.event_types}, ${tx.json(d.labels)}, ${tx.json(d.headers)},
                 ${tx.json(d.sealed_headers ?? {})}, ${d.description}, ${tx.json(d.metadata)}, ${d.enabled}, ${d.signature_scheme}, ${d.signed_headers}, ${d.retry_schedule},
                 ${d.max_attempts}, ${d.timeout_ms}, ${d.max_concurrency ?? null}, ${d.rate_limit_per_second ?? null}, ${d.send_traceparent ?? false},
                 ${d.channels ?? null}::text[], ${at}, ${at})`;
      return;
    }
    case "subscription.updated": {
      const d = entry.data;
      const set = <T>(value: T | undefined) => value !== undefined;
      // An entry with headers replaces both header maps (sql/087); one recorded before that carries no sealed ones.
      await tx`update hookledger.subscriptions set
                 url = coalesce(${d.url ?? null}, url),
                 event_types = coalesce(${d.event_types ?? null}::text[], event_types),
                 labels = coalesce(${d.labels ? tx.json(d.labels) : null}::jsonb, labels),
                 headers = coalesce(${d.headers ? tx.json(d.headers) : null}::jsonb, headers),
                 sealed_headers = coalesce(${d.headers ? tx.json(d.sealed_headers ?? {}) : null}::jsonb, sealed_headers),
                 description = case when ${set(d.description)} then ${d.description ?? null} else description end,
                 metadata = coalesce(${d.metadata ? tx.json(d.metadata) : null}::jsonb, metadata),
                 signature_scheme = coalesce(${d.signature_scheme ?? null}, signature_scheme),
                 signed_headers = coalesce(${d.signed_headers ?? null}::text[], signed_headers),
                 retry_schedule = case when ${set(d.retry_schedule)} then ${d.retry_schedule ?? null}::double precision[] else retry_schedule end,
                 max_attempts = coalesce(${d.max_attempts ?? null}, max_attempts),
                 timeout_ms = coalesce(${d.timeout_ms ?? null}, timeout_ms),
                 max_concurrency = case when ${set(d.max_concurrency)} then ${d.max_concurrency ?? null}::integer else max_concurrency end,
                 rate_limit_per_second = case when ${set(d.rate_limit_per_second)} then ${d.rate_limit_per_second ?? null}::double precision else rate_limit_per_second end,
                 send_traceparent = coalesce(${d.send_traceparent ?? null}::boolean, send_traceparent),
                 channels = case when ${set(d.channels)} then ${d.channels ?? null}::text[] else channels end,
                 updated_at = ${at}
               where org_id = ${entry.orgId} and subscription_id = ${d.subscription_id}`;
      return;
    }
    case "subscription.circuit_opened":
      await tx`update hookledger.subscriptions set circuit_state = 'open', circuit_opened_at = ${at},
                 circuit_retry_at = ${entry.data.retry_at}::timestamptz, circuit_opens = ${entry.data.opens}
               where org_id = ${entry.orgId} and subscription_id = ${entry.data.subscription_id}`;
      return;
    case "subscription.circuit_closed":
      await tx`update hookledger.subscriptions set circuit_state = 'closed', circuit_retry_at = null, circuit_opens = 0
               where org_id = ${entry.orgId} and subscription_id = ${entry.data.subscription_id}`;
      return;
    case "subscription.enabled":
      await tx`update hookledger.subscriptions set enabled = true, disabled_reason = null, auto_disabled_at = null,
                 consecutive_failures = 0, failing_since = null, circuit_state = 'closed', circuit_retry_at = null, circuit_opens = 0, updated_at = ${at}
               where org_id = ${entry.orgId} and subscription_id = ${entry.data.subscription_id}`;
      return;
    case "subscription.disabled":
      await tx`update hookledger.subscriptions set enabled = false, disabled_reason = ${entry.data.reason}, updated_at = ${at}
               where org_id = ${entry.orgId} and subscription_id = ${entry.data.subscription_id}`;
      return;
    case "subscription.auto_disabled":
      await tx`update hookledger.subscriptions set enabled = false, disabled_reason = 'auto_disabled', auto_disabled_at = ${at}, updated_at = ${at}
               where org_id = ${entry.orgId} and subscription_id = ${entry.data.subscription_id}`;
      return;
    case "subscription.deleted":
      await tx`update hookledger.subscriptions set enabled = false, deleted_at = ${at}, updated_at = ${at}
               where org_id = ${entry.orgId} and subscription_id = ${entry.data.subscription_id}`;
      return;
    case "application.deleted":
      await tx`update hookledger.subscriptions set enabled = false, deleted_at = ${at}, updated_at = ${at}
               where org_id = ${entry.orgId} and app_id = ${entry.data.app_id} and deleted_at is null`;
      return;
    // Its applications end with it (tenancy's projection), and their subscriptions here: the worker then cancels
    // their open deliveries instead of sending the deleted tenant's payloads and custom headers on for days.
    // The rows are locked in key order first, as commands lock them, so a worker recording an attempt on one of
    // them cannot deadlock with this statement.
    case "organization.deleted":
      await tx`update hookledger.subscriptions set enabled = false, deleted_at = ${at}, updated_at = ${at}
               where org_id = ${entry.orgId} and subscription_id in (
                 select subscription_id from hookledger.subscriptions where org_id = ${entry.orgId} and deleted_at is null
                 order by subscription_id for no key update)`;
      return;
    default:
      return;
  }
}

/**
 * Endpoint health from a run of attempts, one statement for the run: per subscription, the failures after its last
 * success in the run (or all of them, added to the current count, when the run has no success).
 *
 * Why the condition on healthy rows: every success of a busy endpoint would rewrite the same row and serialise
 * all its deliveries on that row's lock (measured: more workers got slower). A row is written only when health
 * changes, or when last_success_at moves into a new second: it is kept to the second, which also makes the
 * result the same however entries are grouped into runs (live groups differ from a rebuild's pages).
 */
async function applyEndpointHealth(tx: Tx, attempts: EntryOf<"delivery.attempted">[]): Promise<void> {
  // An aborted attempt (the receiver asked us to stop) says nothing about the endpoint's health.
  const run = attempts.filter((entry) => entry.data.outcome !== "aborted");
  if (run.length === 0) return;
  const bySubscription = new Map<string, { org_id: string; subscription_id: string; last_success_at: string | null; failures: number; first_failure_at: string | null; last_failure_at: string | null }>();
  for (const entry of run) {
    const id = entry.data.subscription_id;
    const at = entry.recordedAt.toISOString();
    const health = bySubscription.get(id) ?? { org_id: entry.orgId, subscription_id: id, last_success_at: null, failures: 0, first_failure_at: null, last_failure_at: null };
    if (entry.data.outcome === "succeeded") Object.assign(health, { last_success_at: at, failures: 0, first_failure_at: null });
    else Object.assign(health, { failures: health.failures + 1, first_failure_at: health.first_failure_at ?? at, last_failure_at: at });
    bySubscription.set(id, health);
  }
  await tx`select hookledger.project_endpoint_health(${tx.json([...bySubscription.values()] as never)})`;
}

export const subscriptionsProjection = defineProjection({
  name: "subscriptions",
  handles: [
    "subscription.created",
    "subscription.updated",
    "subscription.enabled",
    "subscription.disabled",
    "subscription.auto_disabled",
    "subscription.deleted",
    "subscription.circuit_opened",
    "subscription.circuit_closed",
    "application.deleted",
    "organization.deleted",
    "delivery.attempted",
  ],
  tables: ["hookledger.subscriptions"],
  apply: (tx, entries) =>
    applyRuns(tx, entries, async (tx, type, run) => {
      if (type === "delivery.attempted") await applyEndpointHealth(tx, run as EntryOf<"delivery.attempted">[]);
      else for (const entry of run) await applySubscriptionEntry(tx, entry);
    }),
  clear: async (tx) => {
    await tx`delete from hookledger.subscriptions where org_id = hookledger.current_org_id()`;
  },
});

export const eventsProjection = defineProjection({
  name: "events",
  handles: ["event.received"],
  tables: ["hookledger.events"],
  apply: async (tx, entries) => {
    // The statement lives in SQL (sql/031) because ingest_batch projects new events with it too.
    await tx`select hookledger.project_events_received(${tx.json(entryRows<"event.received">(entries) as never)})`;
  },
  clear: async (tx) => {
    await tx`delete from hookledger.events where org_id = hookledger.current_org_id()`;
  },
});

export const deliveriesProjection = defineProjection({
  name: "deliveries",
  handles: ["event.received", "delivery.scheduled", "delivery.attempted", "delivery.failed", "delivery.aborted", "delivery.retry_requested", "delivery.cancelled"],
  tables: ["hookledger.deliveries"],
  apply: (tx, entries) =>
    applyRuns(tx, entries, async (tx, type, run) => {
      switch (type) {
        case "event.received": {
          // The event's fan-out (sql/070; ingest_batch projects it with the same statement). Only the fields the
          // statement reads: the events projection already sends each payload.
          const rows = (run as EntryOf<"event.received">[])
            .filter((entry) => (entry.data.deliveries?.length ?? 0) > 0)
            .map(({ data, orgId, recordedAt }) => ({ org_id: orgId, event_id: data.event_id, app_id: data.app_id, deliveries: data.deliveries, at: recordedAt.toISOString() }));
          if (rows.length > 0) await tx`select hookledger.project_deliveries_fanned_out(${tx.json(rows as never)})`;
          return;
        }
        case "delivery.scheduled":
          await tx`select hookledger.project_deliveries_scheduled(${tx.json(entryRows<"delivery.scheduled">(run) as never)})`;
          return;
        case "delivery.attempted":
          // In SQL (sql/032): record_successes projects with the same statement.
          await tx`select hookledger.project_deliveries_attempted(${tx.json(lastPerKey(entryRows<"delivery.attempted">(run), "delivery_id") as never)})`;
          return;
        default:
          for (const entry of run) {
            const at = entry.recordedAt;
            const id = (entry.data as { delivery_id: string }).delivery_id;
            if (type === "delivery.failed") {
              await tx`update hookledger.deliveries set status = 'failed', next_attempt_at = null, completed_at = ${at}, updated_at = ${at}
                       where org_id = ${entry.orgId} and delivery_id = ${id}`;
            } else if (type === "delivery.aborted") {
              await tx`update hookledger.deliveries set status = 'aborted', next_attempt_at = null, completed_at = ${at}, updated_at = ${at}
                       where org_id = ${entry.orgId} and delivery_id = ${id}`;
            } else if (type === "delivery.retry_requested") {
              await tx`update hookledger.deliveries set status = 'pending', next_attempt_at = ${at}, completed_at = null, updated_at = ${at}
                       where org_id = ${entry.orgId} and delivery_id = ${id}`;
            } else {
              await tx`update hookledger.deliveries set status = 'cancelled', next_attempt_at = null, completed_at = ${at}, updated_at = ${at}
                       where org_id = ${entry.orgId} and delivery_id = ${id}`;
            }
          }
      }
    }),
  clear: async (tx) => {
    await tx`delete from hookledger.deliveries where org_id = hookledger.current_org_id()`;
  },
});

export const attemptsProjection = defineProjection({
  name: "delivery_attempts",
  handles: ["delivery.attempted"],
  tables: ["hookledger.delivery_attempts"],
  apply: async (tx, entries) => {
    await tx`select hookledger.project_attempts(${tx.json(entryRows<"delivery.attempted">(entries) as never)})`;
  },
  clear: async (tx) => {
    await tx`delete from hookledger.delivery_attempts where org_id = hookledger.current_org_id()`;
  },
});

export const outboundProjections = [
  eventTypesProjection,
  subscriptionsProjection,
  eventsProjection,
  deliveriesProjection,
  attemptsProjection,
];

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
      await tx`insert into hookledger.subscriptions (org_id, subscription_id, app_id, url, event_types, labels, headers, description,
                 metadata, enabled, signature_scheme, signed_headers, retry_schedule, max_attempts, timeout_ms, created_at, updated_at)
               values (${entry.orgId}, ${d.subscription_id}, ${d.app_id}, ${d.url}, ${d.event_types}, ${tx.json(d.labels)}, ${tx.json(d.headers)},
                 ${d.description}, ${tx.json(d.metadata)}, ${d.enabled}, ${d.signature_scheme}, ${d.signed_headers}, ${d.retry_schedule},
                 ${d.max_attempts}, ${d.timeout_ms}, ${at}, ${at})`;
      return;
    }
    case "subscription.updated": {
      const d = entry.data;
      const set = <T>(value: T | undefined) => value !== undefined;
      await tx`update hookledger.subscriptions set
                 url = coalesce(${d.url ?? null}, url),
                 event_types = coalesce(${d.event_types ?? null}::text[], event_types),
                 labels = coalesce(${d.labels ? tx.json(d.labels) : null}::jsonb, labels),
                 headers = coalesce(${d.headers ? tx.json(d.headers) : null}::jsonb, headers),
                 description = case when ${set(d.description)} then ${d.description ?? null} else description end,
                 metadata = coalesce(${d.metadata ? tx.json(d.metadata) : null}::jsonb, metadata),
                 signature_scheme = coalesce(${d.signature_scheme ?? null}, signature_scheme),
                 signed_headers = coalesce(${d.signed_headers ?? null}::text[], signed_headers),
                 retry_schedule = case when ${set(d.retry_schedule)} then ${d.retry_schedule ?? null}::double precision[] else retry_schedule end,
                 max_attempts = coalesce(${d.max_attempts ?? null}, max_attempts),
                 timeout_ms = coalesce(${d.timeout_ms ?? null}, timeout_ms),
                 updated_at = ${at}
               where org_id = ${entry.orgId} and subscription_id = ${d.subscription_id}`;
      return;
    }
    case "subscription.enabled":
      await tx`update hookledger.subscriptions set enabled = true, disabled_reason = null, auto_disabled_at = null,
                 consecutive_failures = 0, failing_since = null, updated_at = ${at}
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
    case "delivery.attempted": {
      const d = entry.data;
      if (d.outcome === "succeeded") {
        // Every success of a busy endpoint would rewrite the same row and serialise all its deliveries on that
        // row's lock (measured: more workers got slower). Write only when health changes, or to move
        // last_success_at on by at least a second.
        await tx`update hookledger.subscriptions set consecutive_failures = 0, failing_since = null, last_success_at = ${at}
                 where org_id = ${entry.orgId} and subscription_id = ${d.subscription_id}
                   and (consecutive_failures <> 0 or failing_since is not null or last_success_at is null
                        or last_success_at <= ${at}::timestamptz - interval '1 second')`;
      } else {
        await tx`update hookledger.subscriptions set consecutive_failures = consecutive_failures + 1,
                   failing_since = coalesce(failing_since, ${at}), last_failure_at = ${at}
                 where org_id = ${entry.orgId} and subscription_id = ${d.subscription_id}`;
      }
      return;
    }
    default:
      return;
  }
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
    "application.deleted",
    "delivery.attempted",
  ],
  tables: ["hookledger.subscriptions"],
  apply: async (tx, entries) => {
    for (const entry of entries) await applySubscriptionEntry(tx, entry);
  },
  clear: async (tx) => {
    await tx`delete from hookledger.subscriptions where org_id = hookledger.current_org_id()`;
  },
});

export const eventsProjection = defineProjection({
  name: "events",
  handles: ["event.received"],
  tables: ["hookledger.events"],
  apply: async (tx, entries) => {
    await tx`
      insert into hookledger.events (org_id, event_id, app_id, event_type, content_type, payload_encoding, payload, payload_sha256,
        labels, occurred_at, received_at, deliveries_scheduled)
      select org_id, event_id, app_id, event_type, content_type, payload_encoding, payload, payload_sha256,
        labels, occurred_at, at, deliveries_scheduled
      from jsonb_to_recordset(${tx.json(entryRows<"event.received">(entries) as never)}) as r(
        org_id uuid, event_id text, app_id uuid, event_type text, content_type text, payload_encoding text, payload text,
        payload_sha256 text, labels jsonb, occurred_at timestamptz, at timestamptz, deliveries_scheduled integer)`;
  },
  clear: async (tx) => {
    await tx`delete from hookledger.events where org_id = hookledger.current_org_id()`;
  },
});

export const deliveriesProjection = defineProjection({
  name: "deliveries",
  handles: ["delivery.scheduled", "delivery.attempted", "delivery.failed", "delivery.retry_requested", "delivery.cancelled"],
  tables: ["hookledger.deliveries"],
  apply: (tx, entries) =>
    applyRuns(tx, entries, async (tx, type, run) => {
      switch (type) {
        case "delivery.scheduled":
          await tx`
            insert into hookledger.deliveries (org_id, delivery_id, event_id, subscription_id, app_id, status, reason, next_attempt_at, created_at, updated_at)
            select org_id, delivery_id, event_id, subscription_id, app_id, 'pending', reason, at, at, at
            from jsonb_to_recordset(${tx.json(entryRows<"delivery.scheduled">(run) as never)}) as r(
              org_id uuid, delivery_id uuid, event_id text, subscription_id uuid, app_id uuid, reason text, at timestamptz)`;
          return;
        case "delivery.attempted":
          await tx`
            update hookledger.deliveries d set
              attempts = r.attempt_number,
              status = case when r.outcome = 'succeeded' then 'succeeded' when r.next_attempt_at is not null then 'retrying' else d.status end,
              next_attempt_at = r.next_attempt_at,
              last_attempt_at = r.at,
              last_status_code = r.status_code,
              last_error_class = r.error_class,
              completed_at = case when r.outcome = 'succeeded' then r.at else d.completed_at end,
              updated_at = r.at
            from jsonb_to_recordset(${tx.json(lastPerKey(entryRows<"delivery.attempted">(run), "delivery_id") as never)}) as r(
              org_id uuid, delivery_id uuid, attempt_number integer, outcome text, status_code integer, error_class text,
              next_attempt_at timestamptz, at timestamptz)
            where d.org_id = r.org_id and d.delivery_id = r.delivery_id`;
          return;
        default:
          for (const entry of run) {
            const at = entry.recordedAt;
            const id = (entry.data as { delivery_id: string }).delivery_id;
            if (type === "delivery.failed") {
              await tx`update hookledger.deliveries set status = 'failed', next_attempt_at = null, completed_at = ${at}, updated_at = ${at}
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
    await tx`
      insert into hookledger.delivery_attempts (org_id, attempt_id, delivery_id, event_id, subscription_id, attempt_number, outcome,
        status_code, error_class, error_message, duration_ms, response_headers, response_excerpt, attempted_at, next_attempt_at)
      select org_id, attempt_id, delivery_id, event_id, subscription_id, attempt_number, outcome, status_code, error_class,
        error_message, duration_ms, response_headers, response_excerpt, at, next_attempt_at
      from jsonb_to_recordset(${tx.json(entryRows<"delivery.attempted">(entries) as never)}) as r(
        org_id uuid, attempt_id uuid, delivery_id uuid, event_id text, subscription_id uuid, attempt_number integer, outcome text,
        status_code integer, error_class text, error_message text, duration_ms integer, response_headers jsonb, response_excerpt text,
        at timestamptz, next_attempt_at timestamptz)`;
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

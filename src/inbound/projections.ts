/**
 * Inbound projections: ingress routes, receipts (accepted requests), pull queues and pull messages. Runs of one
 * entry type are applied with one set-based statement each (see ledger/runs.ts): a dequeue of 100 messages
 * appends 100 lease entries, and they become one UPDATE.
 */
import type { RecordedEntry } from "../ledger/catalogue.ts";
import { defineProjection } from "../ledger/projection.ts";
import { applyRuns, entryRows, lastPerKey, type EntryOf } from "../ledger/runs.ts";

export const ingressRoutesProjection = defineProjection({
  name: "ingress_routes",
  handles: ["ingress_route.created", "ingress_route.updated", "ingress_route.deleted", "organization.deleted"],
  tables: ["hookledger.ingress_routes"],
  apply: (tx, entries) =>
    applyRuns(tx, entries, async (tx, type, run) => {
      for (const entry of run) {
        const at = entry.recordedAt;
        if (type === "ingress_route.created") {
          const d = (entry as EntryOf<"ingress_route.created">).data;
          await tx`insert into hookledger.ingress_routes (org_id, route_id, name, description, auth, max_body_bytes, publish_app_id,
                     publish_event_type, queue, path, enabled, manual_publish, created_at, updated_at)
                   values (${entry.orgId}, ${d.route_id}, ${d.name}, ${d.description}, ${tx.json(d.auth as never)}, ${d.max_body_bytes},
                     ${d.publish?.app_id ?? null}, ${d.publish?.event_type ?? null}, ${d.queue}, ${d.path ?? null}, ${d.enabled}, ${d.manual_publish ?? true}, ${at}, ${at})`;
        } else if (type === "ingress_route.updated") {
          const d = (entry as EntryOf<"ingress_route.updated">).data;
          const publishGiven = d.publish !== undefined;
          await tx`update hookledger.ingress_routes set
                     name = coalesce(${d.name ?? null}, name),
                     description = case when ${d.description !== undefined} then ${d.description ?? null} else description end,
                     auth = coalesce(${d.auth ? tx.json(d.auth as never) : null}::jsonb, auth),
                     max_body_bytes = coalesce(${d.max_body_bytes ?? null}, max_body_bytes),
                     publish_app_id = case when ${publishGiven} then ${d.publish?.app_id ?? null}::uuid else publish_app_id end,
                     publish_event_type = case when ${publishGiven} then ${d.publish?.event_type ?? null} else publish_event_type end,
                     queue = case when ${d.queue !== undefined} then ${d.queue ?? null} else queue end,
                     path = case when ${d.path !== undefined} then ${d.path ?? null} else path end,
                     enabled = coalesce(${d.enabled ?? null}, enabled),
                     manual_publish = coalesce(${d.manual_publish ?? null}, manual_publish),
                     updated_at = ${at}
                   where org_id = ${entry.orgId} and route_id = ${d.route_id}`;
        } else if (type === "ingress_route.deleted") {
          const d = (entry as EntryOf<"ingress_route.deleted">).data;
          await tx`update hookledger.ingress_routes set enabled = false, deleted_at = ${at}, updated_at = ${at}
                   where org_id = ${entry.orgId} and route_id = ${d.route_id}`;
        } else {
          // A deleted organization receives nothing: its routes go with it (their senders hold no token to revoke).
          await tx`update hookledger.ingress_routes set enabled = false, deleted_at = ${at}, updated_at = ${at}
                   where org_id = ${entry.orgId} and deleted_at is null`;
        }
      }
    }),
  clear: async (tx) => {
    await tx`delete from hookledger.ingress_routes where org_id = hookledger.current_org_id()`;
  },
});

export const ingressReceiptsProjection = defineProjection({
  name: "ingress_receipts",
  handles: ["ingress.received"],
  tables: ["hookledger.ingress_receipts"],
  apply: async (tx, entries) => {
    // In SQL (sql/033): receive_batch projects new receipts with the same statement.
    await tx`select hookledger.project_ingress_receipts(${tx.json(entryRows<"ingress.received">(entries) as never)})`;
  },
  clear: async (tx) => {
    await tx`delete from hookledger.ingress_receipts where org_id = hookledger.current_org_id()`;
  },
});

export const pullQueuesProjection = defineProjection({
  name: "pull_queues",
  handles: ["pull_queue.created", "pull_queue.updated"],
  tables: ["hookledger.pull_queues"],
  apply: async (tx, entries) => {
    for (const entry of entries) {
      const at = entry.recordedAt;
      if (entry.type === "pull_queue.created") {
        const d = entry.data;
        await tx`insert into hookledger.pull_queues (org_id, queue, description, max_deliveries, lease_seconds, created_at, updated_at)
                 values (${entry.orgId}, ${d.queue}, ${d.description}, ${d.max_deliveries}, ${d.lease_seconds}, ${at}, ${at})`;
      } else if (entry.type === "pull_queue.updated") {
        const d = entry.data;
        await tx`update hookledger.pull_queues set
                   description = case when ${d.description !== undefined} then ${d.description ?? null} else description end,
                   max_deliveries = coalesce(${d.max_deliveries ?? null}, max_deliveries),
                   lease_seconds = coalesce(${d.lease_seconds ?? null}, lease_seconds),
                   updated_at = ${at}
                 where org_id = ${entry.orgId} and queue = ${d.queue}`;
      }
    }
  },
  clear: async (tx) => {
    await tx`delete from hookledger.pull_queues where org_id = hookledger.current_org_id()`;
  },
});

export const pullMessagesProjection = defineProjection({
  name: "pull_messages",
  handles: [
    "ingress.received",
    "pull.message_enqueued",
    "pull.message_leased",
    "pull.lease_extended",
    "pull.message_acked",
    "pull.message_nacked",
    "pull.message_dead_lettered",
    "pull.message_replayed",
    "pull.message_purged",
  ],
  tables: ["hookledger.pull_messages"],
  apply: (tx, entries) =>
    applyRuns(tx, entries, async (tx, type, run) => {
      switch (type) {
        case "ingress.received": {
          // The message a receipt enqueued (sql/073; receive_batch projects it with the same statement). Only the
          // fields the statement reads: the receipts projection already sends each body.
          const rows = (run as EntryOf<"ingress.received">[])
            .filter((entry) => entry.data.message_id !== undefined)
            .map(({ data, orgId, recordedAt }) => ({ org_id: orgId, message_id: data.message_id, queue: data.queue, receipt_id: data.receipt_id, at: recordedAt.toISOString() }));
          if (rows.length > 0) await tx`select hookledger.project_pull_messages_received(${tx.json(rows as never)})`;
          return;
        }
        case "pull.message_enqueued":
          await tx`select hookledger.project_pull_messages_enqueued(${tx.json(entryRows<"pull.message_enqueued">(run) as never)})`;
          return;
        case "pull.message_leased":
          await tx`
            update hookledger.pull_messages m set state = 'leased', deliveries = r.delivery, lease_id = r.lease_id,
              lease_expires_at = r.lease_expires_at, visible_at = r.lease_expires_at, updated_at = r.at
            from jsonb_to_recordset(${tx.json(lastPerKey(entryRows<"pull.message_leased">(run), "message_id") as never)}) as r(
              org_id uuid, message_id uuid, lease_id uuid, lease_expires_at timestamptz, delivery integer, at timestamptz)
            where m.org_id = r.org_id and m.message_id = r.message_id`;
          return;
        case "pull.lease_extended":
          await tx`
            update hookledger.pull_messages m set lease_expires_at = r.lease_expires_at, visible_at = r.lease_expires_at, updated_at = r.at
            from jsonb_to_recordset(${tx.json(lastPerKey(entryRows<"pull.lease_extended">(run), "message_id") as never)}) as r(
              org_id uuid, message_id uuid, lease_expires_at timestamptz, at timestamptz)
            where m.org_id = r.org_id and m.message_id = r.message_id`;
          return;
        case "pull.message_nacked":
          await tx`
            update hookledger.pull_messages m set state = 'ready', lease_id = null, lease_expires_at = null, visible_at = r.visible_at, updated_at = r.at
            from jsonb_to_recordset(${tx.json(lastPerKey(entryRows<"pull.message_nacked">(run), "message_id") as never)}) as r(
              org_id uuid, message_id uuid, visible_at timestamptz, at timestamptz)
            where m.org_id = r.org_id and m.message_id = r.message_id`;
          return;
        case "pull.message_dead_lettered":
          await tx`
            update hookledger.pull_messages m set state = 'dead', lease_id = null, lease_expires_at = null, dead_at = r.at, updated_at = r.at
            from jsonb_to_recordset(${tx.json(lastPerKey(entryRows<"pull.message_dead_lettered">(run), "message_id") as never)}) as r(org_id uuid, message_id uuid, at timestamptz)
            where m.org_id = r.org_id and m.message_id = r.message_id`;
          return;
        case "pull.message_replayed":
          await tx`
            update hookledger.pull_messages m set state = 'ready', deliveries = 0, visible_at = r.at, dead_at = null, updated_at = r.at
            from jsonb_to_recordset(${tx.json(lastPerKey(entryRows<"pull.message_replayed">(run), "message_id") as never)}) as r(org_id uuid, message_id uuid, at timestamptz)
            where m.org_id = r.org_id and m.message_id = r.message_id`;
          return;
        default:
          // Acknowledged and purged messages leave the table; their history stays in the ledger.
          await tx`
            delete from hookledger.pull_messages m
            using jsonb_to_recordset(${tx.json(entryRows<"pull.message_acked">(run) as never)}) as r(org_id uuid, message_id uuid)
            where m.org_id = r.org_id and m.message_id = r.message_id`;
      }
    }),
  clear: async (tx) => {
    await tx`delete from hookledger.pull_messages where org_id = hookledger.current_org_id()`;
  },
});

export const inboundProjections = [ingressRoutesProjection, ingressReceiptsProjection, pullQueuesProjection, pullMessagesProjection];

/**
 * Tenancy projections. Each turns a batch of entries into as few statements as it can; deletions cascade here
 * (deleting an application revokes its tokens; deleting an organization revokes every token and deletes every
 * application), so the cascade is rebuilt from the ledger like everything else.
 */
import type { Tx } from "../db/connect.ts";
import type { RecordedEntry } from "../ledger/catalogue.ts";
import { defineProjection } from "../ledger/projection.ts";
import { CONFIGURED_TOKEN_PREFIX, isConfiguredAdminToken } from "./configuredAdminToken.ts";

type Of<T extends RecordedEntry["type"]> = Extract<RecordedEntry, { type: T }>;

async function applyEach(tx: Tx, entries: RecordedEntry[], apply: (tx: Tx, entry: RecordedEntry) => Promise<unknown>): Promise<void> {
  for (const entry of entries) await apply(tx, entry);
}

export const organizationsProjection = defineProjection({
  name: "organizations",
  handles: ["organization.created", "organization.updated", "organization.deleted"],
  tables: ["hookledger.organizations"],
  apply: (tx, entries) =>
    applyEach(tx, entries, (tx, entry) => {
      switch (entry.type) {
        case "organization.created": {
          const { data } = entry as Of<"organization.created">;
          return tx`insert into hookledger.organizations (org_id, name, metadata, created_at, updated_at)
                    values (${data.org_id}, ${data.name}, ${tx.json(data.metadata)}, ${entry.recordedAt}, ${entry.recordedAt})`;
        }
        case "organization.updated": {
          const { data } = entry as Of<"organization.updated">;
          return tx`update hookledger.organizations set
                      name = coalesce(${data.name ?? null}, name),
                      metadata = coalesce(${data.metadata ? tx.json(data.metadata) : null}::jsonb, metadata),
                      retention_days = case when ${data.retention_days !== undefined} then ${data.retention_days ?? null}::integer else retention_days end,
                      quotas = coalesce(${data.quotas ? tx.json(data.quotas) : null}::jsonb, quotas),
                      updated_at = ${entry.recordedAt}
                    where org_id = ${data.org_id}`;
        }
        default: {
          const { data } = entry as Of<"organization.deleted">;
          return tx`update hookledger.organizations set deleted_at = ${entry.recordedAt}, updated_at = ${entry.recordedAt}
                    where org_id = ${data.org_id}`;
        }
      }
    }),
  clear: async (tx) => {
    await tx`delete from hookledger.organizations where org_id = hookledger.current_org_id()`;
  },
});

export const applicationsProjection = defineProjection({
  name: "applications",
  handles: ["application.created", "application.updated", "application.deleted", "organization.deleted"],
  tables: ["hookledger.applications"],
  apply: (tx, entries) =>
    applyEach(tx, entries, (tx, entry) => {
      switch (entry.type) {
        case "application.created": {
          const { data } = entry as Of<"application.created">;
          return tx`insert into hookledger.applications (org_id, app_id, uid, name, description, metadata, operational, created_at, updated_at)
                    values (${entry.orgId}, ${data.app_id}, ${data.uid ?? null}, ${data.name}, ${data.description}, ${tx.json(data.metadata)}, ${data.operational ?? false},
                            ${entry.recordedAt}, ${entry.recordedAt})`;
        }
        case "application.updated": {
          const { data } = entry as Of<"application.updated">;
          return tx`update hookledger.applications set
                      name = coalesce(${data.name ?? null}, name),
                      uid = case when ${data.uid !== undefined} then ${data.uid ?? null} else uid end,
                      description = case when ${data.description !== undefined} then ${data.description ?? null} else description end,
                      metadata = coalesce(${data.metadata ? tx.json(data.metadata) : null}::jsonb, metadata),
                      updated_at = ${entry.recordedAt}
                    where org_id = ${entry.orgId} and app_id = ${data.app_id}`;
        }
        case "application.deleted": {
          const { data } = entry as Of<"application.deleted">;
          return tx`update hookledger.applications set deleted_at = ${entry.recordedAt}, updated_at = ${entry.recordedAt}
                    where org_id = ${entry.orgId} and app_id = ${data.app_id}`;
        }
        default:
          return tx`update hookledger.applications set deleted_at = ${entry.recordedAt}, updated_at = ${entry.recordedAt}
                    where org_id = ${entry.orgId} and deleted_at is null`;
      }
    }),
  clear: async (tx) => {
    await tx`delete from hookledger.applications where org_id = hookledger.current_org_id()`;
  },
});

export const tokensProjection = defineProjection({
  name: "api_tokens",
  handles: ["token.created", "token.revoked", "application.deleted", "organization.deleted"],
  tables: ["hookledger.api_tokens"],
  apply: (tx, entries) =>
    applyEach(tx, entries, (tx, entry) => {
      switch (entry.type) {
        case "token.created": {
          const { data } = entry as Of<"token.created">;
          // A configured admin token keeps neither hash nor characters of its value here, including one recorded
          // with both before configuredAdminToken.ts (sql/086 cleared those rows; a rebuild keeps them cleared).
          const configured = isConfiguredAdminToken(data);
          const prefix = configured ? CONFIGURED_TOKEN_PREFIX : data.token_prefix;
          const sha256 = configured ? null : (data.token_sha256 ?? null);
          return tx`insert into hookledger.api_tokens
                      (org_id, token_id, kind, app_id, label, scopes, token_prefix, token_hash, expires_at, created_by, created_at, queues)
                    values (${entry.orgId}, ${data.token_id}, ${data.kind}, ${data.app_id}, ${data.label}, ${data.scopes},
                            ${prefix}, decode(${sha256}, 'hex'), ${data.expires_at}, ${entry.meta.actor?.id ?? null},
                            ${entry.recordedAt}, ${data.queues ?? null})`;
        }
        case "token.revoked": {
          const { data } = entry as Of<"token.revoked">;
          return tx`update hookledger.api_tokens set revoked_at = ${entry.recordedAt}
                    where org_id = ${entry.orgId} and token_id = ${data.token_id} and revoked_at is null`;
        }
        case "application.deleted": {
          const { data } = entry as Of<"application.deleted">;
          return tx`update hookledger.api_tokens set revoked_at = ${entry.recordedAt}
                    where org_id = ${entry.orgId} and app_id = ${data.app_id} and revoked_at is null`;
        }
        default:
          return tx`update hookledger.api_tokens set revoked_at = ${entry.recordedAt}
                    where org_id = ${entry.orgId} and revoked_at is null`;
      }
    }),
  clear: async (tx) => {
    await tx`delete from hookledger.api_tokens where org_id = hookledger.current_org_id()`;
  },
});

export const tenancyProjections = [organizationsProjection, applicationsProjection, tokensProjection];

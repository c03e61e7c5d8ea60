/**
 * JSON shapes of tenancy resources: one valibot schema each, which the OpenAPI document publishes, and the
 * `present*` function every route answers through, typed by that schema. Never a token hash.
 */
import * as v from "valibot";
import { iso, isoOrNull, named, nullableTimestamp, stringMap, timestamp } from "../../http/responses.ts";
import { entryMetaSchema, type EntryMeta } from "../../ledger/entryMeta.ts";
import type { Application } from "../applications.ts";
import type { AuditEntry } from "../auditLog.ts";
import type { Organization } from "../organizations.ts";
import { QUOTA_NAMES } from "../quotas.ts";
import type { TokenRow } from "../tokenStore.ts";

export const organizationJson = named(
  "Organization",
  v.object({
    id: v.string(),
    name: v.string(),
    metadata: stringMap,
    /** Days of history kept; null = the instance default. */
    retention_days: v.nullable(v.number()),
    /** Quota overrides (missing keys use the instance defaults). */
    quotas: v.record(v.string(), v.number()),
    created_at: timestamp,
    updated_at: timestamp,
  }),
);
export type OrganizationJson = v.InferOutput<typeof organizationJson>;

export function presentOrganization(org: Organization): OrganizationJson {
  return {
    id: org.id,
    name: org.name,
    metadata: org.metadata,
    retention_days: org.retention_days,
    quotas: org.quotas,
    created_at: iso(org.created_at),
    updated_at: iso(org.updated_at),
  };
}

export const applicationJson = named(
  "Application",
  v.object({
    id: v.string(),
    /** Your own identifier for the application, which routes take in place of the id; null when it has none. */
    uid: v.nullable(v.string()),
    name: v.string(),
    description: v.nullable(v.string()),
    metadata: stringMap,
    /** The organization's operational application (see /v1/operational-webhooks): hookledger publishes to it. */
    operational: v.boolean(),
    created_at: timestamp,
    updated_at: timestamp,
  }),
);
export type ApplicationJson = v.InferOutput<typeof applicationJson>;

export function presentApplication(app: Application): ApplicationJson {
  return {
    id: app.id,
    uid: app.uid,
    name: app.name,
    description: app.description,
    metadata: app.metadata,
    operational: app.operational,
    created_at: iso(app.created_at),
    updated_at: iso(app.updated_at),
  };
}

const tokenFields = {
  id: v.string(),
  kind: v.picklist(["instance_admin", "organization", "application"]),
  app_id: v.nullable(v.string()),
  label: v.string(),
  scopes: v.array(v.string()),
  /** Pull queues the token may use; null for every queue. */
  queues: v.nullable(v.array(v.string())),
  /** The token's first characters, to recognise it; never enough to use it. */
  prefix: v.string(),
  expires_at: nullableTimestamp,
  revoked_at: nullableTimestamp,
  created_by: v.nullable(v.string()),
  created_at: timestamp,
  last_used_at: nullableTimestamp,
};
export const tokenJson = named("Token", v.object(tokenFields));
export type TokenJson = v.InferOutput<typeof tokenJson>;

/** The creation answer: the only one that carries the token itself. */
export const createdTokenJson = named("CreatedToken", v.object({ ...tokenFields, token: v.string() }));
export type CreatedTokenJson = v.InferOutput<typeof createdTokenJson>;

export function presentToken(row: TokenRow): TokenJson {
  return {
    id: row.token_id,
    kind: row.kind,
    app_id: row.app_id,
    label: row.label,
    scopes: row.scopes,
    queues: row.queues,
    prefix: row.token_prefix,
    expires_at: isoOrNull(row.expires_at),
    revoked_at: isoOrNull(row.revoked_at),
    created_by: row.created_by,
    created_at: iso(row.created_at),
    last_used_at: isoOrNull(row.last_used_at),
  };
}

/** One ledger entry made through the API, with its meta (actor, request id, IP, user agent, reason) at the top level. */
export const auditEntryJson = named(
  "AuditEntry",
  v.object({ position: v.string(), type: v.string(), stream: v.string(), recorded_at: timestamp, data: v.unknown(), ...entryMetaSchema.entries }),
);
export type AuditEntryJson = v.InferOutput<typeof auditEntryJson>;

/** The entry as the API shows it: the audit view's redacted columns, with the actor and request metadata spelled as in `meta`. */
export function presentAuditEntry(row: AuditEntry): AuditEntryJson {
  return {
    position: row.position,
    type: row.type,
    stream: row.stream,
    recorded_at: iso(row.recorded_at),
    data: row.data,
    actor: {
      kind: row.actor_kind as NonNullable<EntryMeta["actor"]>["kind"],
      ...(row.actor_id !== null ? { id: row.actor_id } : {}),
      ...(row.actor_label !== null ? { label: row.actor_label } : {}),
    },
    ...(row.request_id !== null ? { request_id: row.request_id } : {}),
    ...(row.ip !== null ? { ip: row.ip } : {}),
    ...(row.user_agent !== null ? { user_agent: row.user_agent } : {}),
    ...(row.reason !== null ? { reason: row.reason } : {}),
    ...(row.audit_actor !== null ? { audit_actor: row.audit_actor } : {}),
    ...(row.connection_identity !== null ? { connection_identity: row.connection_identity } : {}),
  };
}

const quotaCounts = v.object(Object.fromEntries(QUOTA_NAMES.map((name) => [name, v.number()])) as Record<(typeof QUOTA_NAMES)[number], v.NumberSchema<undefined>>);

export const usageJson = named(
  "Usage",
  v.object({
    /** The UTC day `events_today` counts. */
    day: v.pipe(v.string(), v.isoDate()),
    /** The organization's effective quotas (its overrides on top of the instance defaults). */
    quotas: quotaCounts,
    usage: v.object({
      events_today: v.number(),
      /** Organization tokens only: an application token sees its own application's usage. */
      applications: v.optional(v.number()),
      ingress_routes: v.optional(v.number()),
      /** Application id → live subscriptions. */
      subscriptions_per_application: v.record(v.string(), v.number()),
    }),
  }),
);
export type UsageJson = v.InferOutput<typeof usageJson>;

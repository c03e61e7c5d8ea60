/** Ledger entry types of the tenancy capability, with the schemas of their data. */
import * as v from "valibot";
import { SCOPES } from "./scopes.ts";

const uuid = v.pipe(v.string(), v.uuid());
const metadata = v.record(v.string(), v.string());

export const tenancyEntries = {
  "organization.created": v.strictObject({ org_id: uuid, name: v.string(), metadata }),
  "organization.updated": v.strictObject({
    org_id: uuid,
    name: v.optional(v.string()),
    metadata: v.optional(metadata),
    retention_days: v.optional(v.nullable(v.number())),
    quotas: v.optional(v.record(v.string(), v.number())),
  }),
  "organization.deleted": v.strictObject({ org_id: uuid }),
  "application.created": v.strictObject({
    app_id: uuid,
    /** The caller's own identifier for the application (absent when it has none). */
    uid: v.optional(v.string()),
    name: v.string(),
    description: v.nullable(v.string()),
    metadata,
    /** The organization's operational application (absent on ordinary ones). */
    operational: v.optional(v.boolean()),
  }),
  "application.updated": v.strictObject({
    app_id: uuid,
    /** A new uid, or null when it was cleared. */
    uid: v.optional(v.nullable(v.string())),
    name: v.optional(v.string()),
    description: v.optional(v.nullable(v.string())),
    metadata: v.optional(metadata),
  }),
  "application.deleted": v.strictObject({ app_id: uuid }),
  "token.created": v.strictObject({
    token_id: uuid,
    kind: v.picklist(["instance_admin", "organization", "application"]),
    app_id: v.nullable(uuid),
    label: v.string(),
    scopes: v.array(v.picklist(SCOPES)),
    token_prefix: v.string(),
    /**
     * SHA-256 of the token, hex. Not the token: it cannot be turned back into one. Absent for a configured instance
     * admin token, which is checked against the configuration and never stored (configuredAdminToken.ts).
     */
    token_sha256: v.optional(v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/))),
    expires_at: v.nullable(v.string()),
    queues: v.optional(v.nullable(v.array(v.string()))),
  }),
  "token.revoked": v.strictObject({ token_id: uuid }),
};

type TenancyEntrySchemas = typeof tenancyEntries;

/** Adds these types to the ledger's catalogue types; their schemas reach it at start-up (src/compose/entryTypes.ts). */
declare module "../ledger/catalogue.ts" {
  interface EntrySchemas extends TenancyEntrySchemas {}
}

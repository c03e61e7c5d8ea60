/**
 * The `meta` of a ledger entry: who did it, from where, and why. Strict on purpose: unknown keys are refused, so a
 * header map (with its Authorization) can never be copied into the ledger by accident.
 */
import * as v from "valibot";

/** What `X-Audit-Actor` may carry: printable ASCII, 1-128 characters, no leading or trailing space. */
export const AUDIT_ACTOR_PATTERN = /^[\x21-\x7e](?:[\x20-\x7e]{0,126}[\x21-\x7e])?$/;

export const actorSchema = v.strictObject({
  kind: v.picklist(["token", "instance_admin", "system", "worker"]),
  id: v.optional(v.string()),
  label: v.optional(v.string()),
});

export const entryMetaSchema = v.strictObject({
  actor: v.optional(actorSchema),
  request_id: v.optional(v.string()),
  ip: v.optional(v.string()),
  user_agent: v.optional(v.pipe(v.string(), v.maxLength(512))),
  reason: v.optional(v.pipe(v.string(), v.maxLength(1000))),
  /** The person or system acting through the token, as the caller named it (`X-Audit-Actor`). */
  audit_actor: v.optional(v.pipe(v.string(), v.regex(AUDIT_ACTOR_PATTERN))),
  /** The subject of the client certificate the connection's TLS handshake verified (mutual TLS listeners). */
  connection_identity: v.optional(v.pipe(v.string(), v.maxLength(1024))),
});

export type Actor = v.InferOutput<typeof actorSchema>;
export type EntryMeta = v.InferOutput<typeof entryMetaSchema>;

/**
 * The `meta` of a ledger entry: who did it, from where, and why. Strict on purpose: unknown keys are refused, so a
 * header map (with its Authorization) can never be copied into the ledger by accident.
 */
import * as v from "valibot";

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
});

export type Actor = v.InferOutput<typeof actorSchema>;
export type EntryMeta = v.InferOutput<typeof entryMetaSchema>;

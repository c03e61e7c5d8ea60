/** Entry types the ledger itself records (instance-level, in the system tenant). */
import * as v from "valibot";

export const systemEntries = {
  "ledger.partitions_created": v.strictObject({
    partitions: v.array(v.string()),
    months_ahead: v.number(),
  }),
  "retention.applied": v.strictObject({
    organizations: v.number(),
    attempts_deleted: v.number(),
    deliveries_deleted: v.number(),
    events_deleted: v.number(),
    partitions_dropped: v.array(v.string()),
    partition_cutoff: v.string(),
  }),
};

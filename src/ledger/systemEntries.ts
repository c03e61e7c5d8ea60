/** Entry types the ledger itself records (instance-level, in the system tenant). */
import * as v from "valibot";

export const systemEntries = {
  "ledger.partitions_created": v.strictObject({
    partitions: v.array(v.string()),
    months_ahead: v.number(),
  }),
};

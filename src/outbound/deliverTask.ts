/** The `deliver` graphile-worker task: one attempt of one delivery (see attempt.ts). */
import type { Task } from "graphile-worker";
import * as v from "valibot";
import type { AppContext } from "../context.ts";
import { attemptDelivery } from "./attempt.ts";

const payloadSchema = v.object({ org_id: v.pipe(v.string(), v.uuid()), delivery_id: v.pipe(v.string(), v.uuid()) });

export function deliverTask(ctx: AppContext): Task {
  return async (payload) => {
    const job = v.parse(payloadSchema, payload);
    try {
      const outcome = await ctx.errors.span("deliver", "queue.process", () => attemptDelivery(ctx, job.org_id, job.delivery_id));
      if (outcome.kind === "skipped") ctx.log.debug("delivery skipped", { delivery_id: job.delivery_id, reason: outcome.reason });
    } catch (error) {
      // A failed endpoint is an outcome, not an error; reaching here means our side failed (database, bug).
      ctx.errors.captureException(error, { task: "deliver", orgId: job.org_id });
      throw error;
    }
  };
}

/**
 * The `deliver` graphile-worker task: one attempt of each delivery in the job (see attempt.ts and jobs.ts).
 * A job's payload is one of three shapes, all still queued somewhere after an upgrade:
 * - `{ org_id, attempt, delivery_ids }`: the jobs a flush of new events queues (sql/096), the same attempt of each;
 * - `[{ org_id, delivery_id, attempt, manual? }, …]`: the jobs the service builds (retries, re-queues, recover),
 *   and fan-out jobs queued before sql/096;
 * - `{ org_id, delivery_id }`: jobs queued before batching, run as a batch of one.
 */
import type { Task } from "graphile-worker";
import * as v from "valibot";
import type { AppContext } from "../context.ts";
import { attemptDeliveries } from "./attempt.ts";
import { EndpointSlots } from "./endpointSlots.ts";
import { groupBy } from "../collections/groupBy.ts";

const uuid = v.pipe(v.string(), v.uuid());
const attempt = v.pipe(v.number(), v.integer(), v.minValue(1));
const itemSchema = v.object({ org_id: uuid, delivery_id: uuid, attempt: v.optional(attempt), manual: v.optional(v.literal(true)) });
const listSchema = v.object({ org_id: uuid, attempt, delivery_ids: v.pipe(v.array(uuid), v.minLength(1)) });
const payloadSchema = v.union([v.array(itemSchema), listSchema, itemSchema]);

type DeliveryItem = v.InferOutput<typeof itemSchema>;

/** The job's deliveries, whatever shape its payload has. */
export function deliveryItemsOf(payload: unknown): DeliveryItem[] {
  const parsed = v.parse(payloadSchema, payload);
  if (Array.isArray(parsed)) return parsed;
  if ("delivery_ids" in parsed) return parsed.delivery_ids.map((deliveryId) => ({ org_id: parsed.org_id, delivery_id: deliveryId, attempt: parsed.attempt }));
  return [parsed];
}

/**
 * How long a job waits for its sends before handing the rest over (attempt.ts, handOverClock.ts): at most a
 * second, and 300 ms after half its deliveries are done. A healthy endpoint answers well within that, while one
 * hanging until its timeout (5 s by default, up to 30 s) no longer holds one of the worker's slots for that long.
 */
const HAND_OVER = { capMs: 1_000, stragglerMs: 300 };

export function deliverTask(ctx: AppContext): Task {
  // One set of slots per worker process: the per-endpoint limit holds across every job this process runs.
  const slots = new EndpointSlots();
  return async (payload) => {
    const items = deliveryItemsOf(payload);
    const byOrg = groupBy(items, (item) => item.org_id);
    await Promise.all(
      [...byOrg].map(async ([orgId, orgItems]) => {
        const requests = orgItems.map((item) => ({ deliveryId: item.delivery_id, attempt: item.attempt, manual: item.manual === true }));
        try {
          await ctx.errors.span("deliver", "queue.process", () => attemptDeliveries(ctx, orgId, requests, { retry: true, slots, handOver: HAND_OVER }));
        } catch (error) {
          // A failed endpoint is an outcome, not an error; reaching here means our side failed (database, bug).
          // The job runs again; attempts already recorded are skipped by their attempt number.
          ctx.errors.captureException(error, { task: "deliver", orgId });
          throw error;
        }
      }),
    );
  };
}

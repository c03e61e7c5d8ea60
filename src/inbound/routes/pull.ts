/**
 * `/v1/pull/{queue}/…`: consumers behind a firewall lease, acknowledge, nack and extend messages; operators list,
 * replay and purge the dead-letter list. A token with only `pull:consume` can do the former and nothing else.
 */
import { Hono, type Context } from "hono";
import * as v from "valibot";
import { boundedArray, exactObject } from "../../http/fields.ts";
import type { AppContext } from "../../context.ts";
import { withTenant } from "../../db/tenant.ts";
import type { HttpEnv } from "../../http/env.ts";
import { jsonInTurns } from "../../http/jsonInTurns.ts";
import { page, pageRequest, paginationQuery } from "../../http/pagination.ts";
import { clientClosedRequest, ProblemError } from "../../http/problem.ts";
import { readJson, readOptionalJson, readQuery } from "../../http/validate.ts";
import { auditMeta } from "../../tenancy/audit.ts";
import { mayUseQueue, requireOrganizationToken, requireScope } from "../../tenancy/authorize.ts";
import { DEAD_LETTER_BATCH, settleDeadLetters } from "../deadLetters.ts";
import { leaseIdsField, leaseSecondsField, queueNameField } from "../fields.ts";
import { dequeue, settleLeases, type LeaseAction } from "../pullLeases.ts";
import { getPullQueue, listDeadLetters } from "../pullStore.ts";
import {
  presentDeadLetter,
  presentLeasedMessage,
  type LeasedMessagesJson,
  type PurgedDeadLettersJson,
  type ReplayedDeadLettersJson,
  type SettledLeasesJson,
} from "./present.ts";

/** Long polls wait at most this long: under common proxy and load-balancer idle timeouts. */
const MAX_WAIT_SECONDS = 20;

const notFound = () => new ProblemError("not-found", "no such pull queue");

const seconds = (max: number) => v.pipe(v.number(), v.integer("expected a whole number"), v.minValue(0, "at least 0"), v.maxValue(max, `at most ${max}`));

export const dequeueBody = exactObject({
  max_messages: v.optional(v.pipe(v.number(), v.integer("expected a whole number"), v.minValue(1, "at least 1"), v.maxValue(100, "at most 100")), 10),
  lease_seconds: v.optional(leaseSecondsField),
  wait_seconds: v.optional(seconds(MAX_WAIT_SECONDS), 0),
});
export const ackBody = exactObject({ lease_ids: leaseIdsField });
export const nackBody = exactObject({ lease_ids: leaseIdsField, delay_seconds: v.optional(seconds(43200), 0) });
export const extendBody = exactObject({ lease_ids: leaseIdsField, lease_seconds: leaseSecondsField });
export const deadLetterBody = exactObject({
  message_ids: v.optional(
    v.pipe(
      boundedArray(v.pipe(v.string(), v.uuid("expected a message id"), v.toLowerCase()), DEAD_LETTER_BATCH, `at most ${DEAD_LETTER_BATCH}`),
      v.minLength(1, "give at least one id, or leave message_ids out for all"),
    ),
  ),
});

export const deadLetterListQuery = exactObject(paginationQuery);

/** The queue in the path; a queue-scoped token sees only its queues (404 for others, like another tenant's). */
const queueParam = (c: Context<HttpEnv>): string => {
  const queue = c.req.param("queue");
  if (!v.is(queueNameField, queue)) throw notFound();
  if (!mayUseQueue(c.get("auth"), queue)) throw notFound();
  return queue;
};

export function pullRoutes(ctx: AppContext): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();
  // A long poll must end before the request timeout does, or the leases it took would be answered to nobody.
  const waitCap = Math.max(0, Math.min(MAX_WAIT_SECONDS, Math.floor(ctx.config.HOOKLEDGER_REQUEST_TIMEOUT_MS / 1000) - 2));

  app.post("/pull/:queue/dequeue", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "pull:consume");
    requireOrganizationToken(auth);
    const queue = queueParam(c);
    const body = await readOptionalJson(c, dequeueBody);
    const messages = await dequeue(
      ctx,
      auth.orgId,
      queue,
      { maxMessages: body.max_messages, waitSeconds: Math.min(body.wait_seconds, waitCap), signal: c.req.raw.signal, ...(body.lease_seconds ? { leaseSeconds: body.lease_seconds } : {}) },
      auditMeta(c),
    );
    if (!messages) throw notFound();
    // A long poll its client left took nothing: that is no empty answer (an Idempotency-Key would keep it, and a
    // repeat would be told "no messages" with some ready), it is a request that did not happen.
    if (messages.length === 0 && c.req.raw.signal.aborted) throw clientClosedRequest();
    // Up to 8 MB of bodies (10 MB for one message alone): serialised a part at a time (jsonInTurns.ts).
    const reply: LeasedMessagesJson = { messages: messages.map(presentLeasedMessage) };
    return jsonInTurns(c, reply, "messages");
  });

  const settle = <S extends v.GenericSchema<unknown, { lease_ids: string[] }>>(action: string, schema: S, toAction: (body: v.InferOutput<S>) => LeaseAction) =>
    app.post(`/pull/:queue/${action}`, async (c) => {
      const auth = c.get("auth");
      requireScope(auth, "pull:consume");
      requireOrganizationToken(auth);
      const queue = queueParam(c);
      const body = await readJson(c, schema);
      const result = await settleLeases(ctx, auth.orgId, queue, body.lease_ids, toAction(body), auditMeta(c));
      if (!result) throw notFound();
      const reply: SettledLeasesJson = { done: result.done, lost: result.lost };
      return c.json(reply);
    });
  settle("ack", ackBody, () => ({ kind: "ack" }));
  settle("nack", nackBody, (body) => ({ kind: "nack", delaySeconds: body.delay_seconds }));
  settle("extend", extendBody, (body) => ({ kind: "extend", leaseSeconds: body.lease_seconds }));

  app.get("/pull/:queue/dead-letters", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "ingress:read");
    requireOrganizationToken(auth);
    const queue = queueParam(c);
    const query = readQuery(c, deadLetterListQuery);
    const { limit, cursor } = pageRequest(query, { k: "timestamp", id: "uuid" });
    const found = await withTenant(ctx.sql, auth.orgId, async (tx) =>
      (await getPullQueue(tx, queue)) ? listDeadLetters(tx, queue, { limit, after: cursor && { deadAt: cursor.k, id: cursor.id } }) : undefined,
    );
    if (!found) throw notFound();
    const result = page(found.rows, found.pageSize, (row) => ({ k: row.dead_at?.toISOString() ?? "", id: row.message_id }));
    return jsonInTurns(c, { data: result.data.map(presentDeadLetter), next_cursor: result.next_cursor }, "data");
  });

  for (const action of ["replay", "purge"] as const) {
    app.post(`/pull/:queue/dead-letters/${action}`, async (c) => {
      const auth = c.get("auth");
      requireScope(auth, "ingress:write");
      requireOrganizationToken(auth);
      const queue = queueParam(c);
      const body = await readOptionalJson(c, deadLetterBody);
      const meta = auditMeta(c, { reasonRequired: action === "purge" && ctx.config.HOOKLEDGER_REQUIRE_AUDIT_REASON });
      const done = await settleDeadLetters(ctx, auth.orgId, queue, action, body.message_ids, meta);
      if (done === undefined) throw notFound();
      const reply: ReplayedDeadLettersJson | PurgedDeadLettersJson =
        action === "replay" ? { replayed: done.settled, remaining: done.remaining } : { purged: done.settled, remaining: done.remaining };
      return c.json(reply);
    });
  }

  return app;
}

/** Ingress routes with their receipt and refusal counters; pull queues with depth and dead letters. */
import { withTenant } from "../../db/tenant.ts";
import { getPullQueue, listDeadLetters, listPullQueues, pullQueueStats } from "../../inbound/pullStore.ts";
import { rejectionCounts } from "../../inbound/rejections.ts";
import { listRoutes } from "../../inbound/routeStore.ts";
import { customReceivePath, receivePath } from "../../inbound/routes/present.ts";
import { mayUseQueue, requireEveryQueue, requireOrganizationToken, requireScope } from "../../tenancy/authorize.ts";
import { ago, badge, h, table, time } from "../html.ts";
import { receiptCounts } from "../queries.ts";
import { render, type View } from "../view.ts";

const LIMIT = 200;
const DEAD_LETTERS = 20;
/** Bytes of a dead letter's body read for its 160-character excerpt (UTF-8: up to 4 bytes a character). */
const EXCERPT_BYTES = 640;

export async function ingressPage(view: View): Promise<Response> {
  const { ctx, auth, base, now } = view;
  requireScope(auth, "ingress:read");
  requireOrganizationToken(auth);
  requireEveryQueue(auth);
  const data = await withTenant(ctx.sql, auth.orgId, async (tx) => {
    const routes = (await listRoutes(tx, { limit: LIMIT })).slice(0, LIMIT);
    const ids = routes.map((route) => route.route_id);
    return { routes, receipts: await receiptCounts(tx, ids), refusals: await rejectionCounts(tx, ids) };
  });
  const rows = data.routes.map((route) => {
    const receipts = data.receipts.get(route.route_id);
    const refusals = data.refusals.get(route.route_id);
    const reasons = Object.entries(refusals?.by_reason ?? {}).map(([reason, count]) => `${reason} ${count}`).join(", ");
    const target = route.queue ? `queue ${route.queue}` : route.publish_event_type ? `event ${route.publish_event_type}` : "—";
    return h`<tr><td>${route.name}<div class="mono muted">${route.path === null ? receivePath(route.route_id) : customReceivePath(route.org_id, route.path)}</div></td><td>${route.enabled ? badge("enabled") : badge("disabled")}</td>
<td>${route.auth.type === "hmac" ? route.auth.preset : route.auth.type}</td><td class="mono">${target}</td>
<td class="mono">${receipts?.total ?? 0}</td><td>${ago(receipts?.last, now)}</td>
<td class="mono">${refusals?.total ?? 0}</td><td class="wrap muted">${reasons || "—"}</td></tr>`;
  });
  const body = h`<h1>Ingress routes</h1>${table("Ingress routes", ["Route", "State", "Verification", "Forwards to", "Accepted", "Last accepted", "Refused", "Refusals by reason"], rows, "No ingress routes. Create one with POST /v1/ingress-routes.")}`;
  return render(view, { title: "Ingress routes", current: `${base}/ingress`, body });
}

export async function queuesPage(view: View): Promise<Response> {
  const { ctx, auth, base, now, c } = view;
  requireScope(auth, "ingress:read");
  requireOrganizationToken(auth);
  const selected = c.req.query("queue");
  const data = await withTenant(ctx.sql, auth.orgId, async (tx) => {
    const queues = (await listPullQueues(tx, { limit: LIMIT, only: auth.queues })).slice(0, LIMIT);
    const chosen = selected && mayUseQueue(auth, selected) ? await getPullQueue(tx, selected) : undefined;
    return {
      queues,
      stats: await pullQueueStats(tx, queues.map((queue) => queue.queue)),
      chosen,
      dead: chosen ? (await listDeadLetters(tx, chosen.queue, { limit: DEAD_LETTERS, excerptBytes: EXCERPT_BYTES })).rows.slice(0, DEAD_LETTERS) : [],
    };
  });
  const rows = data.queues.map((queue) => {
    const stats = data.stats.get(queue.queue);
    return h`<tr><td><a href="${base}/queues?queue=${encodeURIComponent(queue.queue)}">${queue.queue}</a></td><td class="mono">${stats?.ready ?? 0}</td><td class="mono">${stats?.delayed ?? 0}</td>
<td class="mono">${stats?.leased ?? 0}</td><td class="mono">${stats?.dead ? h`<strong>${stats.dead}</strong>` : "0"}</td><td>${ago(stats?.oldest_enqueued_at, now, "—")}</td><td class="mono">${queue.max_deliveries}</td></tr>`;
  });
  const deadRows = data.dead.map(
    (message) => h`<tr><td class="mono">${message.message_id}</td><td>${time(message.dead_at)}</td><td class="mono">${message.deliveries}</td><td class="mono">${message.route_id}</td>
<td>${message.content_type ?? "—"}</td><td class="mono wrap">${Buffer.from(message.body_base64, "base64").toString("utf8").slice(0, 160)}</td></tr>`,
  );
  const body = h`<h1>Pull queues</h1>${table("Pull queues", ["Queue", "Ready", "Delayed", "Leased", "Dead letters", "Oldest message", "Max deliveries"], rows, "No pull queues.")}
${data.chosen
  ? h`<h2>Dead letters of ${data.chosen.queue}, newest first</h2>${table("Dead letters", ["Message", "Dead since", "Deliveries", "Route", "Content type", "Body (start)"], deadRows, "No dead letters.")}`
  : ""}`;
  return render(view, { title: "Pull queues", current: `${base}/queues`, body });
}

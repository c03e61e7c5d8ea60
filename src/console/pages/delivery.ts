/** One delivery: its state and every attempt as a timeline (status, duration, error, response headers and excerpt). */
import * as v from "valibot";
import { withTenant } from "../../db/tenant.ts";
import { ProblemError } from "../../http/problem.ts";
import { getDelivery, listAttempts, type AttemptRow, type DeliveryRow } from "../../outbound/deliveryStore.ts";
import { getSubscription } from "../../outbound/subscriptionStore.ts";
import { requireScope } from "../../tenancy/authorize.ts";
import { hasScope } from "../../tenancy/scopes.ts";
import { ago, badge, codeBlock, definitionList, h, time, type Html } from "../html.ts";
import { render, type View } from "../view.ts";

const ATTEMPTS = 100;

/** A delivery the caller may see, or 404 (the JSON API's rule for application-scoped callers). */
export async function loadDelivery(view: View, id: string): Promise<DeliveryRow> {
  const { ctx, auth } = view;
  const found = v.is(v.pipe(v.string(), v.uuid()), id) ? await withTenant(ctx.sql, auth.orgId, (tx) => getDelivery(tx, id)) : undefined;
  if (!found || (auth.appId !== null && auth.appId !== found.app_id)) throw new ProblemError("not-found", "no such delivery");
  return found;
}

function attemptItem(attempt: AttemptRow): Html {
  const headers = Object.entries(attempt.response_headers);
  const answer = attempt.status_code !== null ? `HTTP ${attempt.status_code}` : (attempt.error_class ?? "no answer");
  return h`<li class="${attempt.outcome === "succeeded" ? "ok" : "bad"}"><div><strong>Attempt ${attempt.attempt_number}</strong> ${badge(attempt.outcome)} <span class="mono">${answer}</span> · ${attempt.duration_ms} ms · ${time(attempt.attempted_at)}</div>
${attempt.error_class ? h`<div>Error class <span class="mono">${attempt.error_class}</span>${attempt.error_message ? h`: ${attempt.error_message}` : ""}</div>` : ""}
${attempt.next_attempt_at ? h`<div class="muted">Next attempt scheduled for ${time(attempt.next_attempt_at)}</div>` : ""}
${headers.length > 0
  ? h`<details><summary>Response headers (${headers.length})</summary><div class="scroll"><table><caption class="sr">Response headers</caption><tbody>${headers.map(([name, value]) => h`<tr><th scope="row" class="mono">${name}</th><td class="mono wrap">${value}</td></tr>`)}</tbody></table></div></details>`
  : ""}
${attempt.response_excerpt ? h`<details${attempt.outcome === "failed" ? h` open` : ""}><summary>Response body (excerpt)</summary>${codeBlock(attempt.response_excerpt, "Response body excerpt")}</details>` : ""}
</li>`;
}

export async function deliveryPage(view: View, id: string): Promise<Response> {
  const { ctx, auth, base, now } = view;
  requireScope(auth, "events:read");
  const delivery = await loadDelivery(view, id);
  const { attempts, subscription } = await withTenant(ctx.sql, auth.orgId, async (tx) => ({
    attempts: await listAttempts(tx, { deliveryId: id, limit: ATTEMPTS }),
    subscription: await getSubscription(tx, delivery.subscription_id),
  }));
  const retryable = delivery.status !== "succeeded" && hasScope(auth.scopes, "subscriptions:write");
  const body = h`<div class="crumbs"><a href="${base}/events/${encodeURIComponent(delivery.event_id)}">Event ${delivery.event_id}</a> /</div>
<h1>Delivery ${badge(delivery.status)}</h1>
<div class="panel">${definitionList([
    ["Endpoint", subscription ? h`<a href="${base}/subscriptions/${subscription.subscription_id}">${subscription.url}</a>` : "deleted subscription"],
    ["Event", h`<a href="${base}/events/${encodeURIComponent(delivery.event_id)}">${delivery.event_id}</a>`],
    ["Attempts", String(delivery.attempts)],
    ["Created", time(delivery.created_at)],
    ["Next attempt", delivery.status === "pending" || delivery.status === "retrying" ? ago(delivery.next_attempt_at, now, "—") : "—"],
    ["Completed", time(delivery.completed_at)],
    ["Reason", delivery.reason],
    ["Delivery id", h`<span class="mono">${delivery.delivery_id}</span>`],
  ])}</div>
${retryable ? h`<div class="actions"><a class="button" href="${base}/deliveries/${delivery.delivery_id}/retry">Retry now</a></div>` : ""}
<h2>Attempts, newest first</h2>
${attempts.length > 0 ? h`<ol class="timeline" aria-label="Attempts">${attempts.slice(0, ATTEMPTS).map(attemptItem)}</ol>` : h`<p class="empty">No attempt yet.</p>`}`;
  return render(view, { title: "Delivery", current: `${base}/events`, body });
}

/**
 * Shared set-up for inbound tests: a tenant with an application, event types and a pull queue, and helpers to
 * create routes and post raw webhooks to the public endpoint.
 */
import { createTenant, type TestApp } from "../support/app.ts";

/* eslint-disable @typescript-eslint/no-explicit-any -- test helpers return parsed JSON bodies for assertions */

export async function inboundTenant(app: TestApp, name = "Acme") {
  const tenant = await createTenant(app, name);
  const application = await app.call("POST", "/v1/applications", tenant.token, { name: "webhooks" });
  for (const eventType of ["github.push", "stripe.event"]) {
    const created = await app.call("POST", `/v1/applications/${application.body.id}/event-types`, tenant.token, { name: eventType });
    if (created.status !== 201) throw new Error(`event type ${eventType}: ${JSON.stringify(created.body)}`);
  }
  const createQueue = async (queue: string, settings: Record<string, unknown> = {}) => {
    const created = await app.call("POST", "/v1/pull-queues", tenant.token, { name: queue, ...settings });
    if (created.status !== 201) throw new Error(`pull queue ${queue}: ${created.status} ${JSON.stringify(created.body)}`);
    return created.body;
  };
  const createRoute = async (body: Record<string, unknown>) => {
    const created = await app.call("POST", "/v1/ingress-routes", tenant.token, { name: "route", ...body });
    if (created.status !== 201) throw new Error(`ingress route: ${created.status} ${JSON.stringify(created.body)}`);
    return created.body as { id: string; path: string | null; receive_path: string; custom_receive_path: string | null; secrets: { id: string; source: string; value?: string }[] } & Record<string, any>;
  };
  return { ...tenant, appId: application.body.id as string, createQueue, createRoute };
}

/** Posts raw bytes to a route's public URL, the way a provider would. */
export async function postWebhook(app: TestApp, routeId: string, body: string | Uint8Array, headers: Record<string, string> = {}) {
  const response = await app.fetch(`/in/${routeId}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: body as BodyInit });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as any) : undefined, headers: response.headers };
}

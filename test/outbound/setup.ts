/** Shared set-up for outbound tests: a tenant with an application, event types and a receiver. */
import { createTenant, eventually, type TestApp } from "../support/app.ts";

export async function outboundTenant(app: Pick<TestApp, "call">, eventTypes: string[] = ["invoice.paid", "invoice.voided", "user.created"]) {
  const tenant = await createTenant(app);
  const application = await app.call("POST", "/v1/applications", tenant.token, { name: "billing" });
  for (const name of eventTypes) {
    const created = await app.call("POST", `/v1/applications/${application.body.id}/event-types`, tenant.token, { name });
    if (created.status !== 201) throw new Error(`event type ${name}: ${JSON.stringify(created.body)}`);
  }
  const subscribe = async (body: Record<string, unknown>) => {
    const created = await app.call("POST", "/v1/subscriptions", tenant.token, { app_id: application.body.id, event_types: ["*"], ...body });
    if (created.status !== 201) throw new Error(`subscription: ${created.status} ${JSON.stringify(created.body)}`);
    return created.body as { id: string; secret: string } & Record<string, unknown>;
  };
  const send = async (body: Record<string, unknown>) =>
    app.call("POST", "/v1/events", tenant.token, { app_id: application.body.id, event_type: "invoice.paid", payload: { amount: 42 }, ...body });
  /** The first delivery of an event, as `GET /v1/events/{id}` shows it. */
  const deliveryOf = async (eventId: string) => (await app.call("GET", `/v1/events/${eventId}`, tenant.token)).body.deliveries?.[0];
  /** That delivery once it has `status` (waiting up to `timeoutMs`). */
  const settled = (eventId: string, status: string, timeoutMs = 15_000) =>
    eventually(async () => {
      const delivery = await deliveryOf(eventId);
      return delivery?.status === status ? delivery : undefined;
    }, timeoutMs, `delivery of ${eventId} to be ${status}`);
  return { ...tenant, appId: application.body.id as string, subscribe, send, deliveryOf, settled };
}

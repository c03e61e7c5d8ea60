/**
 * Shared set-up of the edge tests (edgeValues, hostileRequests): a database, an app, and a tenant with a pull queue,
 * an ingress route into it and a subscription, so every kind of route has something real to be sent to.
 */
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { inboundTenant } from "../inbound/setup.ts";

export interface RouteWorld {
  db: TestDatabase;
  app: TestApp;
  t: Awaited<ReturnType<typeof inboundTenant>>;
  routeId: string;
  subscriptionId: string;
}

/** `name` names the queue and the subscription's path; the route authenticates with `auth` and the one `secret`. */
export async function routeWorld(name: string, route: { auth: Record<string, unknown>; secret: string }): Promise<RouteWorld> {
  const db = await createTestDatabase();
  const app = await startTestApp(db);
  const t = await inboundTenant(app);
  await t.createQueue(name);
  const routeId = (await t.createRoute({ auth: route.auth, secrets: [{ value: route.secret }], queue: name })).id;
  const subscription = await app.call("POST", "/v1/subscriptions", t.token, { app_id: t.appId, url: `http://127.0.0.1:9/${name}`, event_types: ["github.push"] });
  if (subscription.status !== 201) throw new Error(`subscription: ${subscription.status} ${JSON.stringify(subscription.body)}`);
  return { db, app, t, routeId, subscriptionId: subscription.body.id as string };
}

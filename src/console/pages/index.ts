/** Every read page of a surface. The portal shows one application's pages only; organization-wide pages are console-only. */
import type { Hono } from "hono";
import type { AppContext } from "../../context.ts";
import type { HttpEnv } from "../../http/env.ts";
import type { Surface } from "../sessions.ts";
import { viewOf } from "../view.ts";
import { applicationPage, applicationsPage } from "./applications.ts";
import { deliveryPage } from "./delivery.ts";
import { eventPage, eventsPage } from "./events.ts";
import { ingressPage, queuesPage } from "./inbound.ts";
import { overviewPage } from "./overview.ts";
import { subscriptionPage } from "./subscription.ts";

export function registerPages(app: Hono<HttpEnv>, ctx: AppContext, surface: Surface): void {
  const view = (c: Parameters<typeof viewOf>[1]) => viewOf(ctx, c, surface);
  if (surface === "console") {
    app.get("/overview", (c) => overviewPage(view(c)));
    app.get("/applications", (c) => applicationsPage(view(c)));
    app.get("/ingress", (c) => ingressPage(view(c)));
    app.get("/queues", (c) => queuesPage(view(c)));
  }
  app.get("/applications/:app_id", (c) => applicationPage(view(c), c.req.param("app_id")));
  app.get("/subscriptions/:subscription_id", (c) => subscriptionPage(view(c), c.req.param("subscription_id")));
  app.get("/events", (c) => eventsPage(view(c)));
  app.get("/events/:event_id", (c) => eventPage(view(c), c.req.param("event_id")));
  app.get("/deliveries/:delivery_id", (c) => deliveryPage(view(c), c.req.param("delivery_id")));
}

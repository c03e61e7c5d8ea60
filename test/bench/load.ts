/**
 * Load generation: N concurrent clients in a closed loop (each sends its next request when the previous answers),
 * bounded by a request count AND a duration, recording every latency. Plus a small JSON client for the API.
 */
import { BENCH_ADMIN_TOKEN } from "./env.ts";
import { summarize, type LatencySummary } from "./stats.ts";

export interface LoadResult {
  ok: number;
  failed: number;
  seconds: number;
  perSecond: number;
  latency: LatencySummary;
  /** First few failures, for the report. */
  errors: string[];
}

/**
 * Runs `send(i)` from `concurrency` clients until `maxRequests` were sent or `durationMs` elapsed.
 * `send` returns true for success; throwing or false counts as a failure.
 */
export async function closedLoop(options: {
  concurrency: number;
  durationMs: number;
  maxRequests?: number;
  send: (i: number) => Promise<boolean>;
}): Promise<LoadResult> {
  const latencies: number[] = [];
  const errors: string[] = [];
  let next = 0;
  let failed = 0;
  const max = options.maxRequests ?? Number.MAX_SAFE_INTEGER;
  const started = performance.now();
  const deadline = started + options.durationMs;
  const client = async () => {
    while (next < max && performance.now() < deadline) {
      const i = next++;
      const t0 = performance.now();
      try {
        if (await options.send(i)) latencies.push(performance.now() - t0);
        else failed += 1;
      } catch (error) {
        failed += 1;
        if (errors.length < 5) errors.push(String(error));
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, client));
  const seconds = (performance.now() - started) / 1000;
  return { ok: latencies.length, failed, seconds, perSecond: latencies.length / seconds, latency: summarize(latencies), errors };
}

/** Sends `count` requests at a fixed rate whatever the answers' speed (open loop): for latency under light load. */
export async function openLoop(options: { count: number; perSecond: number; send: (i: number) => Promise<void> }): Promise<void> {
  const started = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < options.count; i++) {
    const due = started + (i * 1000) / options.perSecond;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    inflight.push(options.send(i));
  }
  await Promise.all(inflight);
}

/* eslint-disable @typescript-eslint/no-explicit-any -- API answers are parsed JSON */
export interface Api {
  baseUrl: string;
  call(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: any }>;
}

export function api(baseUrl: string): Api {
  return {
    baseUrl,
    async call(method, path, token, body) {
      const response = await fetch(`${baseUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : undefined };
    },
  };
}

export interface Tenant {
  orgId: string;
  token: string;
  appId: string;
}

async function expect201(what: string, answer: Promise<{ status: number; body: any }>): Promise<any> {
  const { status, body } = await answer;
  if (status !== 201) throw new Error(`${what}: ${status} ${JSON.stringify(body)}`);
  return body;
}

/** An organization, an admin token, one application and its event types, through the API. */
export async function createTenant(client: Api, eventTypes: string[]): Promise<Tenant> {
  const org = await expect201("organization", client.call("POST", "/v1/organizations", BENCH_ADMIN_TOKEN, { name: "Bench" }));
  const token = await expect201("token", client.call("POST", `/v1/organizations/${org.id}/tokens`, BENCH_ADMIN_TOKEN, { label: "bench", scopes: ["admin"] }));
  const app = await expect201("application", client.call("POST", "/v1/applications", token.token, { name: "bench" }));
  for (const name of eventTypes) await expect201(`event type ${name}`, client.call("POST", `/v1/applications/${app.id}/event-types`, token.token, { name }));
  return { orgId: org.id, token: token.token, appId: app.id };
}

export async function subscribe(client: Api, tenant: Tenant, body: { url: string; event_types: string[]; timeout_ms?: number }): Promise<string> {
  const created = await expect201("subscription", client.call("POST", "/v1/subscriptions", tenant.token, { app_id: tenant.appId, ...body }));
  return created.id as string;
}

/** One event, the shape a typical producer sends (~200 bytes of JSON). */
export function eventBody(tenant: Tenant, eventType: string, eventId: string): string {
  return JSON.stringify({
    app_id: tenant.appId,
    event_type: eventType,
    event_id: eventId,
    payload: { invoice_id: eventId, amount_cents: 4200, currency: "EUR", customer: { id: "cus_123", email: "a@example.com" }, lines: [1, 2, 3] },
  });
}

/** POST /v1/events; true on 202. */
export async function postEvent(baseUrl: string, tenant: Tenant, body: string): Promise<boolean> {
  const response = await fetch(`${baseUrl}/v1/events`, {
    method: "POST",
    headers: { authorization: `Bearer ${tenant.token}`, "content-type": "application/json" },
    body,
  });
  await response.arrayBuffer();
  if (response.status !== 202) throw new Error(`POST /v1/events answered ${response.status}`);
  return true;
}

/**
 * Secret changes of one ingress route sent at the same time are decided one after another, as if sent in turn: a
 * secret id is taken once (the others hear 400 naming `id`, as a later request would), and the cap on live secrets
 * holds. And any race no handler decides is a 409 or 503 problem, never a 500.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lostRaceProblem } from "../../src/http/problem.ts";
import { MAX_LIVE_SECRETS } from "../../src/inbound/routeSecretCommands.ts";
import { ingressRouteStream } from "../../src/inbound/streams.ts";
import { eventually, startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { inboundTenant } from "./setup.ts";

let db: TestDatabase;
let app: TestApp;
let t: Awaited<ReturnType<typeof inboundTenant>>;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db);
  t = await inboundTenant(app);
});
afterAll(async () => {
  await app?.stop();
  await db?.drop();
});

const addSecret = (routeId: string, body: Record<string, unknown>) => app.call("POST", `/v1/ingress-routes/${routeId}/secrets`, t.token, body);
const statuses = (answers: { status: number }[]) => answers.map((answer) => answer.status).sort();

/**
 * Sends `requests` while the route's ledger stream is locked, so none can finish before several have got as far
 * as they can (two or more waiting for a lock, then a moment for the rest): in one process the requests would
 * otherwise run one by one.
 */
async function allAtOnce<T>(routeId: string, requests: () => Promise<T>[]): Promise<T[]> {
  const hold = await db.owner.reserve();
  let answers: Promise<T[]> | undefined;
  try {
    await hold`begin`;
    await hold`select 1 from hookledger.ledger_streams where stream = ${ingressRouteStream(routeId)} for update`;
    answers = Promise.all(requests());
    await eventually(async () => {
      const [row] = await db.owner<{ n: number }[]>`
        select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`;
      return (row?.n ?? 0) >= 2 ? true : undefined;
    }, 15_000, "requests waiting");
    await new Promise((resolve) => setTimeout(resolve, 300));
  } finally {
    await hold`rollback`;
    hold.release();
  }
  return answers;
}

describe("concurrent secret changes", () => {
  it("takes a secret id once when twenty requests add it at the same time", async () => {
    const route = await t.createRoute({ auth: { type: "hmac", preset: "github" }, secrets: [{ value: "first" }] });
    const answers = await allAtOnce(route.id, () => Array.from({ length: 20 }, (_, i) => addSecret(route.id, { id: "same-id", value: `value-${i}` })));
    expect(statuses(answers)).toEqual([201, ...Array(19).fill(400)]);
    for (const answer of answers.filter((item) => item.status === 400)) {
      expect(answer.body.errors).toEqual([{ field: "id", message: "this route already has a secret with this id" }]);
    }
    const [stored] = await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.ingress_route_secrets where route_id = ${route.id} and secret_id = 'same-id'`;
    expect(stored?.n).toBe(1);
  });

  it("keeps the cap on live secrets when the last free places are asked for at the same time", async () => {
    const route = await t.createRoute({ auth: { type: "hmac", preset: "github" }, secrets: [{ value: "first" }] });
    for (let i = 2; i < MAX_LIVE_SECRETS; i++) expect((await addSecret(route.id, { value: `sequential-${i}` })).status).toBe(201);
    const answers = await allAtOnce(route.id, () => Array.from({ length: 6 }, (_, i) => addSecret(route.id, { value: `parallel-${i}` })));
    expect(statuses(answers)).toEqual([201, 400, 400, 400, 400, 400]);
    const listed = await app.call("GET", `/v1/ingress-routes/${route.id}`, t.token);
    expect(listed.body.secrets).toHaveLength(MAX_LIVE_SECRETS);
  });

  it("answers a race no handler decided as 409 or 503 with nothing internal in it", () => {
    const unique = lostRaceProblem(Object.assign(new Error('duplicate key value violates unique constraint "x_pkey"'), { code: "23505", constraint_name: "x_pkey" }));
    expect(unique?.status).toBe(409);
    expect(unique?.message).not.toContain("x_pkey");
    const deadlock = lostRaceProblem(Object.assign(new Error("deadlock detected"), { code: "40P01" }));
    expect(deadlock?.status).toBe(503);
    expect(deadlock?.extras.headers).toEqual({ "Retry-After": "1" });
    expect(lostRaceProblem(Object.assign(new Error("division by zero"), { code: "22012" }))).toBeUndefined();
    expect(lostRaceProblem(null)).toBeUndefined();
  });
});

/**
 * While the database cannot be reached, requests are answered 503 at once instead of each waiting in the pool for a
 * connection attempt of its own (under load those waits grew to 24 s, then requests hung until Postgres returned).
 * One trial request at a time goes through; the first that does not fail that way says the database is back. The service's own wiring is tried against a real Postgres whose connections are refused.
 */
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DatabaseDown } from "../../src/http/databaseDown.ts";
import type { HttpEnv } from "../../src/http/env.ts";
import { databaseUnavailableProblem, ProblemError, problemResponse } from "../../src/http/problem.ts";
import { createTenant, eventually, startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

describe("DatabaseDown", () => {
  let databaseUp = true;
  let handled = 0;
  let release: (() => void) | undefined;
  const down = new DatabaseDown();
  const app = new Hono<HttpEnv>();
  app.use(down.middleware());
  app.get("/x", async (c) => {
    handled += 1;
    if (c.req.query("hold")) await new Promise<void>((resolve) => (release = resolve));
    if (!databaseUp) throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
    return c.text("ok");
  });
  app.onError((error, c) => {
    if (error instanceof ProblemError) return problemResponse(error, c.req.path);
    down.noteError(error);
    const problem = databaseUnavailableProblem(error);
    return problem ? problemResponse(problem, c.req.path) : c.text("internal", 500);
  });
  const get = () => app.request("/x");

  it("lets requests through while the database answers", async () => {
    expect((await get()).status).toBe(200);
    expect(down.isDown).toBe(false);
  });

  it("answers 503 at once once a request found the database unreachable, letting one trial through at a time", async () => {
    databaseUp = false;
    const first = await get();
    expect(first.status).toBe(503);
    expect(first.headers.get("retry-after")).toBe("5");
    expect(await first.json()).toMatchObject({ type: "urn:hookledger:problem:unavailable", status: 503 });
    expect(down.isDown).toBe(true);
    // A trial waiting on the pool (held here): every other request is answered at once, without reaching a handler.
    handled = 0;
    const trial = app.request("/x?hold=1");
    await new Promise((resolve) => setTimeout(resolve, 10));
    const answers = await Promise.all(Array.from({ length: 20 }, get));
    expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 503));
    expect(handled).toBe(1);
    release?.();
    expect((await trial).status).toBe(503);
    // The trial failed: the next request is the next trial.
    expect((await get()).status).toBe(503);
    expect(handled).toBe(2);
  });

  it("is up again with the first trial that does not find the database unreachable", async () => {
    databaseUp = true;
    expect((await get()).status).toBe(200);
    expect(down.isDown).toBe(false);
    expect((await Promise.all(Array.from({ length: 5 }, get))).map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200]);
  });
});

describe("the service while its database refuses connections", () => {
  let db: TestDatabase;
  let app: TestApp;
  let token: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestApp(db);
    token = (await createTenant(app)).token;
  });
  afterAll(async () => {
    await db.owner.unsafe(`alter database "${db.name}" connection limit -1`);
    await app?.stop();
    await db?.drop();
  });

  it("answers 503 with Retry-After, and serves again by itself once the database is back", async () => {
    expect((await app.call("GET", "/v1/applications", token)).status).toBe(200);
    // New connections are refused (53300 too_many_connections) and the service's own are ended.
    await db.owner.unsafe(`alter database "${db.name}" connection limit 0`);
    await db.owner`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${db.name} and pid <> pg_backend_pid() and usename <> current_user`;
    const answers = await Promise.all(Array.from({ length: 30 }, () => app.call("GET", "/v1/applications", token)));
    expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 503));
    expect(answers.every((answer) => answer.headers.get("retry-after") === "5" && answer.body.type === "urn:hookledger:problem:unavailable")).toBe(true);
    await db.owner.unsafe(`alter database "${db.name}" connection limit -1`);
    await eventually(async () => ((await app.call("GET", "/v1/applications", token)).status === 200 ? true : undefined), 15_000, "the service to serve again");
  }, 30_000);
});

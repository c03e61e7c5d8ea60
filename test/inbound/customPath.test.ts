/**
 * Custom receive paths: `POST /in/{org_id}/{path}` beside `POST /in/{route_id}`. Validation, uniqueness among an
 * organization's live routes (and in the database, under a race), tenant separation, path changes, deletes,
 * disabled routes, 404s that tell nothing, dot segments, and projection rebuilds.
 */
import { randomUUID } from "node:crypto";
import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withTenant } from "../../src/db/tenant.ts";
import { STREAM_DOES_NOT_EXIST } from "../../src/ledger/append.ts";
import { rebuildProjectionForAll } from "../../src/ledger/rebuildAll.ts";
import { eventually, startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { inboundTenant, postWebhook } from "./setup.ts";
import { presetCases } from "./signers.ts";

/* eslint-disable @typescript-eslint/no-explicit-any -- parsed JSON bodies */

let db: TestDatabase;
let app: TestApp;
let a: Awaited<ReturnType<typeof inboundTenant>>;
let b: Awaited<ReturnType<typeof inboundTenant>>;

beforeAll(async () => {
  db = await createTestDatabase();
  // Many requests from one loopback address: the per-IP limit is not what these tests are about.
  app = await startTestApp(db);
  a = await inboundTenant(app, "Acme");
  b = await inboundTenant(app, "Globex");
});
afterAll(async () => {
  await app?.stop();
  await db?.drop();
});

const github = presetCases.find((c) => c.preset === "github")!;

/** GitHub's signature headers for `body`, with a fresh delivery id (the replay guard remembers each one). */
const signed = async (secret: string, body: string) => ({ ...(await github.sign({ secret, timestamp: 0, body })), "X-GitHub-Delivery": randomUUID() });

/** Posts a GitHub-signed body to `/in/{target}`, where target is a route id or `{org_id}/{path}`. */
const send = async (target: string, secret: string, body = JSON.stringify({ n: Math.random() })) => postWebhook(app, target, body, await signed(secret, body));

/** A route of `tenant` with GitHub auth and one secret, named like its path. */
const githubRoute = (tenant: typeof a, secret: string, extra: Record<string, unknown> = {}) =>
  tenant.createRoute({ auth: { type: "hmac", preset: "github" }, secrets: [{ value: secret }], ...extra });

const create = (tenant: typeof a, body: Record<string, unknown>) =>
  app.call("POST", "/v1/ingress-routes", tenant.token, { name: "route", auth: { type: "hmac", preset: "github" }, ...body });

/** A problem body without what differs per request (request id, instance = the request's own path). */
const problemOf = (body: any) => {
  const { request_id: _id, instance: _instance, ...rest } = body;
  return rest;
};

/**
 * POSTs with the request target sent exactly as given (fetch and URL would resolve dot segments first), the way a
 * hand-written or hostile client can.
 */
function rawPost(target: string, headers: Record<string, string>, body: string): Promise<{ status: number; body: any }> {
  const { hostname, port } = new URL(app.baseUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, method: "POST", path: target, headers: { "content-type": "application/json", ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined });
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("receiving at /in/{org_id}/{path}", () => {
  it("accepts a GitHub-signed webhook at a multi-segment path and records it like one sent to the route id", async () => {
    await a.createQueue("custom");
    const route = await githubRoute(a, "gh-secret", { path: "github/acme-org/main", queue: "custom" });
    expect(route).toMatchObject({
      path: "github/acme-org/main",
      receive_path: `/in/${route.id}`,
      custom_receive_path: `/in/${a.orgId}/github/acme-org/main`,
    });
    expect((await app.call("GET", `/v1/ingress-routes/${route.id}`, a.token)).body).toMatchObject({ path: "github/acme-org/main", custom_receive_path: route.custom_receive_path });

    const byPath = await send(`${a.orgId}/github/acme-org/main`, "gh-secret", '{"via":"path"}');
    expect(byPath.status).toBe(202);
    expect(byPath.body.receipt_id).toMatch(/^rcpt_/);
    const byId = await send(route.id, "gh-secret", '{"via":"id"}');
    expect(byId.status).toBe(202);

    const receipts = await app.call("GET", `/v1/ingress-routes/${route.id}/receipts`, a.token);
    expect(receipts.body.data.map((r: { id: string }) => r.id).sort()).toEqual([byPath.body.receipt_id, byId.body.receipt_id].sort());
    const pulled = await app.call("POST", "/v1/pull/custom/dequeue", a.token, { max_messages: 10 });
    expect(pulled.body.messages.map((m: any) => [m.receipt.route_id, Buffer.from(m.receipt.body_base64, "base64").toString("utf8")]).sort()).toEqual([
      [route.id, '{"via":"id"}'],
      [route.id, '{"via":"path"}'],
    ]);
    const [entry] = await db.owner<{ data: Record<string, unknown> }[]>`
      select data from hookledger.ledger where type = 'ingress.received' and data->>'receipt_id' = ${byPath.body.receipt_id}`;
    expect(entry?.data).toMatchObject({ route_id: route.id, verification: { method: "hmac", preset: "github" } });
  });

  it("accepts single-segment paths and every allowed character", async () => {
    const route = await githubRoute(a, "chars", { path: "Stripe.v2_live~x-1/A9" });
    expect((await send(`${a.orgId}/Stripe.v2_live~x-1/A9`, "chars")).status).toBe(202);
    expect((await send(`${a.orgId}/stripe.v2_live~x-1/A9`, "chars")).status).toBe(404);
    const single = await githubRoute(a, "single", { path: "single" });
    expect((await send(`${a.orgId}/single`, "single")).status).toBe(202);
    expect(route.path).not.toBe(single.path);
    const longest = await githubRoute(a, "long", { path: `${"x".repeat(100)}/${"y".repeat(99)}` });
    expect(longest.path).toHaveLength(200);
    expect((await send(`${a.orgId}/${longest.path}`, "long")).status).toBe(202);
  });

  it("still authenticates on the custom path: a wrong signature is the same bare 401", async () => {
    const route = await githubRoute(a, "right", { path: "auth/check" });
    const viaPath = await send(`${a.orgId}/auth/check`, "wrong");
    const viaId = await send(route.id, "wrong");
    expect(viaPath.status).toBe(401);
    expect(problemOf(viaPath.body)).toEqual(problemOf(viaId.body));
  });
});

describe("path validation", () => {
  const invalid: [unknown, RegExp][] = [
    ["", /must not be empty/],
    ["/github", /must not start or end with \//],
    ["github/", /must not start or end with \//],
    ["/", /must not start or end with \//],
    ["a//b", /single \//],
    [".", /no \. or \.\. segments/],
    ["..", /no \. or \.\. segments/],
    ["a/./b", /no \. or \.\. segments/],
    ["a/../b", /no \. or \.\. segments/],
    ["../a", /no \. or \.\. segments/],
    ["a b", /letters, digits/],
    ["a%2Fb", /letters, digits/],
    ["a?b", /letters, digits/],
    ["a#b", /letters, digits/],
    ["a\\b", /letters, digits/],
    ["zoë", /letters, digits/],
    ["x".repeat(201), /at most 200 characters/],
    [42, /expected a path/],
  ];

  const cases = invalid.map(([path, message]) => ({ path, message, shown: JSON.stringify(path).slice(0, 16) }));
  it.each(cases)("refuses $shown at creation, naming the field path", async ({ path, message }) => {
    const response = await create(a, { path });
    expect(response.status).toBe(400);
    expect(response.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(response.body.type).toBe("urn:hookledger:problem:validation");
    expect(response.body.errors.map((e: { field: string }) => e.field)).toEqual(response.body.errors.map(() => "path"));
    expect(response.body.errors.map((e: { message: string }) => e.message).join("; ")).toMatch(message);
  });

  it("refuses an invalid path in an update too, and leaves the route as it was", async () => {
    const route = await githubRoute(a, "k", { path: "valid/one" });
    const response = await app.call("PATCH", `/v1/ingress-routes/${route.id}`, a.token, { path: "in/../valid" });
    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual([{ field: "path", message: "no . or .. segments" }]);
    expect((await app.call("GET", `/v1/ingress-routes/${route.id}`, a.token)).body.path).toBe("valid/one");
  });
});

describe("uniqueness", () => {
  it("refuses a second live route of the organization with the same path with 409 naming path; another organization may use it", async () => {
    const first = await githubRoute(a, "a-shared", { path: "shared/hook" });
    const duplicate = await create(a, { path: "shared/hook", secrets: [{ value: "other" }] });
    expect(duplicate.status).toBe(409);
    expect(duplicate.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(duplicate.body).toMatchObject({ type: "urn:hookledger:problem:conflict", status: 409, errors: [{ field: "path", message: "already in use" }] });

    const other = await githubRoute(a, "a-other", { path: "shared/other" });
    const moved = await app.call("PATCH", `/v1/ingress-routes/${other.id}`, a.token, { path: "shared/hook" });
    expect(moved.status).toBe(409);
    expect(moved.body.errors).toEqual([{ field: "path", message: "already in use" }]);
    expect((await app.call("GET", `/v1/ingress-routes/${other.id}`, a.token)).body.path).toBe("shared/other");
    // Setting a route's own path again is no conflict.
    expect((await app.call("PATCH", `/v1/ingress-routes/${first.id}`, a.token, { path: "shared/hook" })).status).toBe(200);

    const inB = await githubRoute(b, "b-shared", { path: "shared/hook" });
    expect(inB.custom_receive_path).toBe(`/in/${b.orgId}/shared/hook`);

    // Each URL reaches its own organization's route: the other organization's secret does not verify there.
    const toA = await send(`${a.orgId}/shared/hook`, "a-shared");
    const toB = await send(`${b.orgId}/shared/hook`, "b-shared");
    expect([toA.status, toB.status]).toEqual([202, 202]);
    expect((await send(`${a.orgId}/shared/hook`, "b-shared")).status).toBe(401);
    expect((await send(`${b.orgId}/shared/hook`, "a-shared")).status).toBe(401);
    const receiptsOf = async (tenant: typeof a, routeId: string) =>
      (await app.call("GET", `/v1/ingress-routes/${routeId}/receipts`, tenant.token)).body.data.map((r: { id: string }) => r.id);
    expect(await receiptsOf(a, first.id)).toEqual([toA.body.receipt_id]);
    expect(await receiptsOf(b, inB.id)).toEqual([toB.body.receipt_id]);
  });

  it("answers 404 for one organization's id with another organization's path", async () => {
    await githubRoute(b, "b-only", { path: "only/in-b" });
    const crossed = await send(`${a.orgId}/only/in-b`, "b-only");
    expect(crossed.status).toBe(404);
    expect(problemOf(crossed.body)).toEqual(problemOf((await send("rt_000000000000000000000000", "b-only")).body));
    expect((await send(`${b.orgId}/only/in-b`, "b-only")).status).toBe(202);
  });

  it("lets exactly one of several concurrent creations claim a path", async () => {
    const responses = await Promise.all(Array.from({ length: 6 }, (_, i) => create(a, { path: "contended", secrets: [{ value: `s${i}` }] })));
    expect(responses.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
    const [row] = await db.owner<{ n: number }[]>`
      select count(*)::int as n from hookledger.ingress_routes where org_id = ${a.orgId} and path = 'contended' and deleted_at is null`;
    expect(row?.n).toBe(1);
  });

  it("turns a unique violation from a claim it could not see coming into the same 409, writing nothing", async () => {
    const ledgerBefore = (await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.ledger`)[0]?.n;
    const squatter = "rt_squatter".padEnd(27, "0");
    let pending: ReturnType<typeof create> | undefined;
    // An uncommitted row holds the path while the command runs: nothing the command reads can see it, so its
    // insert into the projection waits on the unique index and fails once the holder commits.
    await db.owner.begin(async (tx) => {
      await tx`insert into hookledger.ingress_routes (org_id, route_id, name, auth, max_body_bytes, path, created_at, updated_at)
               values (${a.orgId}, ${squatter}, 'squatter', '{"type":"basic","username":"x"}', 1, 'raced', now(), now())`;
      pending = create(a, { path: "raced", secrets: [{ value: "late" }] });
      await eventually(async () => {
        const [waiting] = await db.owner<{ n: number }[]>`
          select count(*)::int as n from pg_stat_activity
          where datname = current_database() and wait_event_type = 'Lock' and query like '%ingress_routes%'`;
        return waiting && waiting.n > 0 ? true : undefined;
      }, 10_000, "the create to wait on the unique index");
    });
    const response = await pending;
    expect(response?.status).toBe(409);
    expect(response?.body.errors).toEqual([{ field: "path", message: "already in use" }]);
    expect((await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.ledger`)[0]?.n).toBe(ledgerBefore);
    await db.owner`delete from hookledger.ingress_routes where route_id = ${squatter}`;
  });
});

describe("changing and freeing a path", () => {
  it("moves the URL when the path changes, clears it with null, and keeps it through other changes", async () => {
    const route = await githubRoute(a, "mover", { path: "old/place" });
    const moved = await app.call("PATCH", `/v1/ingress-routes/${route.id}`, a.token, { path: "new/place" });
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({ path: "new/place", custom_receive_path: `/in/${a.orgId}/new/place` });
    expect((await send(`${a.orgId}/old/place`, "mover")).status).toBe(404);
    expect((await send(`${a.orgId}/new/place`, "mover")).status).toBe(202);

    const renamed = await app.call("PATCH", `/v1/ingress-routes/${route.id}`, a.token, { name: "renamed" });
    expect(renamed.body).toMatchObject({ name: "renamed", path: "new/place" });

    // The old path is free as soon as the route left it.
    expect((await create(a, { path: "old/place", secrets: [{ value: "x" }] })).status).toBe(201);

    const cleared = await app.call("PATCH", `/v1/ingress-routes/${route.id}`, a.token, { path: null });
    expect(cleared.body).toMatchObject({ path: null, receive_path: `/in/${route.id}`, custom_receive_path: null });
    expect((await send(`${a.orgId}/new/place`, "mover")).status).toBe(404);
    expect((await send(route.id, "mover")).status).toBe(202);
    const listed = await app.call("GET", "/v1/ingress-routes?limit=100", a.token);
    expect(listed.body.data.find((r: { id: string }) => r.id === route.id)).toMatchObject({ path: null });
  });

  it("frees the path when the route is deleted, so a recreated route serves the same URL", async () => {
    const original = await githubRoute(a, "first-secret", { path: "stable/github" });
    expect((await send(`${a.orgId}/stable/github`, "first-secret")).status).toBe(202);
    expect((await app.call("DELETE", `/v1/ingress-routes/${original.id}`, a.token)).status).toBe(204);
    expect((await send(`${a.orgId}/stable/github`, "first-secret")).status).toBe(404);

    const recreated = await githubRoute(a, "second-secret", { path: "stable/github" });
    expect(recreated.id).not.toBe(original.id);
    expect(recreated.custom_receive_path).toBe(original.custom_receive_path);
    const sent = await send(`${a.orgId}/stable/github`, "second-secret");
    expect(sent.status).toBe(202);
    expect((await send(`${a.orgId}/stable/github`, "first-secret")).status).toBe(401);
    const receipts = await app.call("GET", `/v1/ingress-routes/${recreated.id}/receipts`, a.token);
    expect(receipts.body.data.map((r: { id: string }) => r.id)).toEqual([sent.body.receipt_id]);
  });

  it("answers 404 for a disabled route on its custom path as on its id, while it keeps the path", async () => {
    const route = await githubRoute(a, "sleepy", { path: "sleepy", enabled: false });
    const viaPath = await send(`${a.orgId}/sleepy`, "sleepy");
    const viaId = await send(route.id, "sleepy");
    expect([viaPath.status, viaId.status]).toEqual([404, 404]);
    expect(problemOf(viaPath.body)).toEqual(problemOf(viaId.body));
    expect((await create(a, { path: "sleepy", secrets: [{ value: "x" }] })).status).toBe(409);
    await app.call("PATCH", `/v1/ingress-routes/${route.id}`, a.token, { enabled: true });
    expect((await send(`${a.orgId}/sleepy`, "sleepy")).status).toBe(202);
  });
});

describe("404s that tell nothing", () => {
  it("answers a malformed or unknown org id or path exactly like an unknown route id, never with a database error", async () => {
    await githubRoute(a, "known", { path: "known/path" });
    const reference = await send("rt_000000000000000000000000", "known");
    expect(reference.status).toBe(404);
    const targets = [
      "not-a-uuid/known/path",
      `${a.orgId.slice(0, -1)}/known/path`,
      `${a.orgId}x/known/path`,
      "00000000-0000-0000-0000-00000000000g/known/path",
      "'%20or%201=1--/known/path",
      `${randomUUID()}/known/path`,
      `${a.orgId}/known/other`,
      `${a.orgId}/known`,
      `${a.orgId}/Known/Path`,
      `${a.orgId}/known/path/more`,
      `${a.orgId}/known%2Fpath`,
      `${a.orgId}/known/path%00`,
      `${a.orgId}/${"x".repeat(201)}`,
      `${a.orgId}/z%C3%B6e`,
    ];
    for (const target of targets) {
      const response = await send(target, "known");
      expect({ target, status: response.status, type: response.headers.get("content-type") }).toEqual({ target, status: 404, type: expect.stringMatching(/^application\/problem\+json/) });
      expect({ target, problem: problemOf(response.body) }).toEqual({ target, problem: problemOf(reference.body) });
    }
    expect((await send(`${a.orgId}/known/path`, "known")).status).toBe(202);
    // Percent-encoded unreserved characters are the characters themselves (RFC 3986 §6.2.2.2); `%2F` is not `/`.
    expect((await send(`${a.orgId}/kn%6Fwn/p%61th`, "known")).status).toBe(202);
  });

  it("answers /in/{org_id}%2F{path} 404 however recently /in/{org_id}/{path} was found, and records nothing for it", async () => {
    const route = await githubRoute(a, "encoded", { path: "encoded/slash" });
    const receipts = async () => (await app.call("GET", `/v1/ingress-routes/${route.id}/receipts`, a.token)).body.data.length;
    expect((await send(`${a.orgId}/encoded/slash`, "encoded")).status).toBe(202);
    // The whole `{org_id}%2F{path}` is one segment: the route-id URL, whose id decodes to the custom path's text.
    for (const target of [`${a.orgId}%2Fencoded%2Fslash`, `${a.orgId}%2fencoded%2fslash`, `${a.orgId}%2Fencoded/slash`]) {
      const response = await send(target, "encoded");
      expect({ target, status: response.status }).toEqual({ target, status: 404 });
    }
    expect(await receipts()).toBe(1);
    expect((await send(route.id, "encoded")).status).toBe(202);
    expect(await receipts()).toBe(2);
  });

  it("does not let dot segments, plain or encoded, reach a route other than the one the resolved URL names", async () => {
    const target = await githubRoute(a, "dots", { path: "dots/target" });
    await githubRoute(b, "dots-b", { path: "dots/target" });
    const body = '{"dots":true}';
    const outcome = async (path: string) => (await rawPost(path, await signed("dots", body), body)).status;

    // Each resolves to something other than /in/{a}/dots/target, so none may reach that route.
    expect(await outcome(`/in/${a.orgId}/dots/target/..`)).toBe(404);
    expect(await outcome(`/in/${a.orgId}/dots/target/%2e%2e`)).toBe(404);
    expect(await outcome(`/in/${a.orgId}/dots/target/%2E%2E/`)).toBe(404);
    expect(await outcome(`/in/${a.orgId}/dots/target/.`)).toBe(404);
    expect(await outcome(`/in/${a.orgId}/dots/%2e`)).toBe(404);
    // Encoded slashes do not make segments: the decoded path has a `..` segment and is refused as written.
    expect(await outcome(`/in/${a.orgId}/x%2F..%2Fdots%2Ftarget`)).toBe(404);
    expect(await outcome(`/in/${a.orgId}/dots%2F%2e%2e%2Fdots%2Ftarget`)).toBe(404);
    // Climbing out of one organization lands on the other's URL, which is that organization's route with its
    // own secret: the first organization's signature does not open it, and nothing is recorded for either.
    const before = (await app.call("GET", `/v1/ingress-routes/${target.id}/receipts`, a.token)).body.data.length;
    expect(await outcome(`/in/${a.orgId}/../${b.orgId}/dots/target`)).toBe(401);
    expect(await outcome(`/in/${a.orgId}/%2e%2e/${b.orgId}/dots/target`)).toBe(401);
    expect(await outcome(`/in/${a.orgId}/dots/../../../v1/ingress-routes`)).toBe(401);
    expect((await app.call("GET", `/v1/ingress-routes/${target.id}/receipts`, a.token)).body.data.length).toBe(before);
    // A request that resolves to the route's own URL is that route, as it would be from any client.
    expect(await outcome(`/in/${a.orgId}/dots/elsewhere/../target`)).toBe(202);
  });
});

describe("ledger and projection", () => {
  it("hands a path from a route being deleted to one created at the same moment: the claim is refused or waits, never a 500", async () => {
    // The rebuild test below replays these hand-overs too. (The interleaving the per-organization route lock exists
    // for — a claim appended before the delete that frees the path — is too narrow to force from outside.)
    for (let round = 0; round < 8; round += 1) {
      const path = `handover/${round}`;
      const holder = await githubRoute(a, "holder", { path });
      const [deleted, claimed] = await Promise.all([
        app.call("DELETE", `/v1/ingress-routes/${holder.id}`, a.token),
        create(a, { path, secrets: [{ value: "claimer" }] }),
      ]);
      expect(deleted.status).toBe(204);
      // Either order is correct: after the delete the path is free (201); before it, still held (409).
      expect([201, 409]).toContain(claimed.status);
      if (claimed.status === 409) expect((await create(a, { path, secrets: [{ value: "claimer" }] })).status).toBe(201);
      expect((await send(`${a.orgId}/${path}`, "claimer")).status).toBe(202);
    }
  });

  it("records the path in route entries, projects old entries without one as null, and rebuilds to the live table", async () => {
    const route = await githubRoute(a, "ledgered", { path: "ledgered/path" });
    await app.call("PATCH", `/v1/ingress-routes/${route.id}`, a.token, { path: "ledgered/moved" });
    const entries = await db.owner<{ type: string; data: Record<string, unknown> }[]>`
      select type, data from hookledger.ledger
      where stream = ${`ingress_route:${route.id}`} and type in ('ingress_route.created', 'ingress_route.updated') order by position`;
    expect(entries.map((e) => [e.type, e.data.path])).toEqual([
      ["ingress_route.created", "ledgered/path"],
      ["ingress_route.updated", "ledgered/moved"],
    ]);

    // An entry recorded before paths existed has no `path` key at all.
    const legacyId = "rt_legacy".padEnd(27, "0");
    await withTenant(app.ctx.sql, a.orgId, (tx) =>
      app.ctx.ledger.record(tx, `ingress_route:${legacyId}`, STREAM_DOES_NOT_EXIST, [
        {
          type: "ingress_route.created",
          data: { route_id: legacyId, enabled: true, name: "legacy", description: null, auth: { type: "basic", username: "old" }, max_body_bytes: 1024, publish: null, queue: null },
        },
      ]),
    );
    const legacy = await app.call("GET", `/v1/ingress-routes/${legacyId}`, a.token);
    expect(legacy.body).toMatchObject({ id: legacyId, path: null, custom_receive_path: null });

    const snapshot = () => db.owner`select * from hookledger.ingress_routes order by org_id, route_id`;
    const live = await snapshot();
    expect(live.filter((row) => row.path !== null && row.deleted_at === null).length).toBeGreaterThan(5);
    expect(live.some((row) => row.path === "stable/github" && row.deleted_at !== null)).toBe(true);
    expect(live.some((row) => row.route_id === legacyId && row.path === null)).toBe(true);
    await rebuildProjectionForAll(app.ctx, "ingress_routes");
    expect(await snapshot()).toEqual(live);
    expect((await send(`${a.orgId}/ledgered/moved`, "ledgered")).status).toBe(202);
  });
});

/**
 * A credential with its end cut off is not the credential. For every verifier preset (signatures made by each
 * provider's own algorithm) and for basic auth, requests whose signature lost its last characters, or whose
 * password is a prefix of the real one, are refused with 401 through the public endpoint — so a comparison that
 * only looks as far as the shorter side (a prefix compare) fails here, wherever it hides. The refusals are sent
 * before the valid request and over bodies of their own, so the replay guard cannot be what refuses them; the
 * valid request sent last proves the route and its secret work.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { inboundTenant, postWebhook } from "./setup.ts";
import { presetCases, type PresetCase } from "./signers.ts";

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

/** The same text with its end cut off: one character, two, four, and half of it (padding aside, so bytes change). */
function truncations(value: string): string[] {
  const unpadded = value.replace(/=+$/, "");
  return [unpadded.slice(0, -1), unpadded.slice(0, -2), unpadded.slice(0, -4), unpadded.slice(0, Math.ceil(unpadded.length / 2))];
}

const rejectionsOf = async (routeId: string) => (await app.call("GET", `/v1/ingress-routes/${routeId}`, t.token)).body.rejections.by_reason as Record<string, number>;

const label = (testCase: PresetCase) => (testCase.genericConfig ? `generic (${testCase.genericConfig.signedPayload})` : testCase.preset);

describe("truncated signatures", () => {
  it.each(presetCases.map((testCase) => [label(testCase), testCase] as const))("%s: refused with 401", async (_name, testCase) => {
    const secret = testCase.newSecret();
    const route = await t.createRoute({
      auth: { type: "hmac", preset: testCase.preset, ...(testCase.genericConfig ? { generic: testCase.genericConfig } : {}) },
      secrets: [{ value: secret }],
    });
    // Lower-cased names, so a signed Content-Type replaces postWebhook's own instead of being sent twice.
    const sign = async (body: string) =>
      Object.fromEntries(Object.entries(await testCase.sign({ secret, timestamp: Math.floor(Date.now() / 1000), body })).map(([k, v]) => [k.toLowerCase(), v]));
    const signatureHeader = (headers: Record<string, string>) => {
      const names = Object.keys(headers).filter((name) => /signature|hmac/i.test(name));
      expect(names, "exactly one signature header").toHaveLength(1);
      return names[0]!;
    };

    let refusals = 0;
    for (let n = 0; n < truncations("x".repeat(64)).length; n++) {
      const body = JSON.stringify({ truncated: n });
      const headers = await sign(body);
      const name = signatureHeader(headers);
      const cut = truncations(headers[name]!)[n]!;
      const response = await postWebhook(app, route.id, body, { ...headers, [name]: cut });
      expect(response.status, `${name}: ${cut}`).toBe(401);
      refusals++;
    }
    const rejections = await rejectionsOf(route.id);
    expect(Object.values(rejections).reduce((sum, count) => sum + count, 0)).toBe(refusals);
    expect(rejections).not.toHaveProperty("replay");

    const body = JSON.stringify({ truncated: "none" });
    expect((await postWebhook(app, route.id, body, await sign(body))).status).toBe(202);
  });
});

describe("basic auth with part of the credentials", () => {
  it("refuses a prefix of the password or of the user name with 401", async () => {
    const password = "correct-horse-battery-staple";
    const route = await t.createRoute({ auth: { type: "basic", username: "hooks" }, secrets: [{ value: password }] });
    const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;
    const attempts = [
      ...truncations(password).map((prefix) => basic("hooks", prefix)),
      basic("hooks", password.slice(0, 1)),
      basic("hooks", ""),
      basic("hook", password),
      basic("h", password),
      basic("", password),
    ];
    for (const [n, authorization] of attempts.entries()) {
      const response = await postWebhook(app, route.id, JSON.stringify({ attempt: n }), { Authorization: authorization });
      expect(response.status, Buffer.from(authorization.slice(6), "base64").toString()).toBe(401);
    }
    expect(await rejectionsOf(route.id)).toEqual({ basic_auth_failed: attempts.length });
    expect((await postWebhook(app, route.id, "{}", { Authorization: basic("hooks", password) })).status).toBe(202);
  });
});

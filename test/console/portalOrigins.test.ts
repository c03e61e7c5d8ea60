/**
 * The portal's allowed origins and its CSP `frame-ancestors`, over plain HTTP against real Postgres: only origins
 * in a strict `http(s)://host[:port]` shape are taken (the URL parser alone let `;`, `,` and quotes through, which
 * went verbatim into the header), and the header leaves out any stored value that would not pass, so values saved
 * before the check cannot inject either.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTenant, startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;
let app: TestApp;
let tenant: { orgId: string; token: string; tokenId: string };
let appId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db);
  tenant = await createTenant(app, "Framing Co");
  appId = (await app.call("POST", "/v1/applications", tenant.token, { name: "Billing" })).body.id;
});
afterAll(async () => {
  await app?.stop();
  await db?.drop();
});

const setOrigins = (origins: unknown[]) => app.call("PATCH", "/v1/portal-settings", tenant.token, { allowed_origins: origins });

/** Opens a fresh portal link; answers the link exchange's response (a 303 into the portal) and the session cookie. */
async function enterPortal(): Promise<{ entered: Response; cookie: string }> {
  const minted = await app.call("POST", `/v1/applications/${appId}/portal-links`, tenant.token);
  expect(minted.status).toBe(201);
  const link = new URL(minted.body.url);
  const entered = await app.fetch(link.pathname + link.search, { redirect: "manual" });
  expect(entered.status).toBe(303);
  const cookie = entered.headers.getSetCookie().find((value) => value.startsWith("hl_portal="));
  expect(cookie).toBeDefined();
  return { entered, cookie: cookie!.split(";")[0]! };
}

/** The CSP's directives, in order. */
const directivesOf = (response: Response): string[] => (response.headers.get("content-security-policy") ?? "").split("; ");

/** The `frame-ancestors` directive of both portal answers: the link exchange and a page of the session. */
async function frameAncestorsSeen(): Promise<{ directives: string[][]; frameOptions: (string | null)[] }> {
  const { entered, cookie } = await enterPortal();
  const page = await app.fetch(`/portal/applications/${appId}`, { headers: { cookie }, redirect: "manual" });
  expect(page.status).toBe(200);
  const answers = [entered, page];
  return { directives: answers.map(directivesOf), frameOptions: answers.map((answer) => answer.headers.get("x-frame-options")) };
}

describe("PATCH /v1/portal-settings allowed_origins", () => {
  const refused = [
    "https://a;sandbox",
    "https://a.com,b.com",
    "https://a.com'",
    'https://a.com"',
    "https://a.com!$&()",
    "https://a.com,'unsafe-inline'",
    "https://a.com/path",
    "https://a.com/",
    "javascript:alert(1)",
    "data:text/html,x",
    "ftp://a.com",
    "https://a.com x",
    " https://a.com",
    "https://a.com\t",
    "https://*",
    "https://a.*.com",
    "https://a_b.com",
    "https://a..b.com",
    "https://a.com.",
    "https://A.com",
    "https://a.com:443",
    "http://a.com:80",
    "https://a.com:0",
    "https://a.com:08443",
    "https://a.com:65536",
    "https://1.2.3",
    "https://[::1",
    "https://[0:0::1]",
    "https://user@a.com",
    "https://a.com?x",
    "https://a.com#x",
  ];

  it.each(refused)("refuses %j with a 400 naming its index", async (bad) => {
    const answer = await setOrigins(["https://good.example.com", bad]);
    expect(answer.status).toBe(400);
    expect(answer.headers.get("content-type")).toBe("application/problem+json");
    expect(answer.body.type).toBe("urn:hookledger:problem:validation");
    expect(answer.body.errors).toEqual([{ field: "allowed_origins.1", message: expect.stringContaining("expected an origin") }]);
  });

  it("keeps the settings untouched after the refusals", async () => {
    expect((await app.call("GET", "/v1/portal-settings", tenant.token)).body).toEqual({ allowed_origins: [] });
  });

  it("takes host names, localhost with a port, IP literals and a subdomain wildcard, and writes each exactly into frame-ancestors", async () => {
    const origins = ["https://app.example.com", "http://localhost:3000", "https://[::1]:8443", "https://*.example.com", "http://127.0.0.1:8080", "https://xn--bcher-kva.example:65535"];
    const answer = await setOrigins(origins);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ allowed_origins: origins });
    const seen = await frameAncestorsSeen();
    for (const directives of seen.directives) expect(directives.at(-1)).toBe(`frame-ancestors ${origins.join(" ")}`);
    expect(seen.frameOptions).toEqual([null, null]);
  });
});

describe("the portal's frame-ancestors", () => {
  it("leaves out stored values that would not pass the check (saved before it existed)", async () => {
    const stored = ["https://a;sandbox", "https://ok.example.com", "https://a.com,'unsafe-inline'", "https://b.com'", "https://c.com!$&()", "https://d.com/path"];
    await db.owner`update hookledger.portal_settings set allowed_origins = ${stored}::text[] where org_id = ${tenant.orgId}`;
    const seen = await frameAncestorsSeen();
    for (const directives of seen.directives) {
      expect(directives.at(-1)).toBe("frame-ancestors https://ok.example.com");
      expect(directives.filter((directive) => directive.startsWith("frame-ancestors"))).toHaveLength(1);
      expect(directives.join("; ")).not.toMatch(/sandbox|unsafe-inline|b\.com|c\.com|d\.com/);
    }
  });

  it("forbids framing when no stored value passes", async () => {
    await db.owner`update hookledger.portal_settings set allowed_origins = ${["https://a;sandbox", "https://a.com,b.com"]}::text[] where org_id = ${tenant.orgId}`;
    const seen = await frameAncestorsSeen();
    for (const directives of seen.directives) expect(directives.at(-1)).toBe("frame-ancestors 'none'");
    expect(seen.frameOptions).toEqual(["DENY", "DENY"]);
  });
});

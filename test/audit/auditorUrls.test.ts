/**
 * Secrets in endpoint URLs never reach an auditor (sql/094): a DBA granted hookledger_auditor, connected for real,
 * reads every view that shows a URL (delivery_history, failing_endpoints, secret_rotations, event_log, audit_log),
 * and the tenant reads GET /v1/audit-log; none of them shows a byte of the secret, and each still shows where the
 * endpoint is (scheme, host, port, the path's shape). Subscriptions are made through the API and delivered to for
 * real: their hosts resolve (to loopback) while the API checks them, then fail DNS, so nothing is ever sent.
 *
 * Known receivers' URLs first, then a fixed-seed fuzz: random URLs with a random secret in a query value, a query
 * part without `=`, a path segment, a path parameter or a fragment. The same fuzz, userinfo and fragments included
 * (the API refuses the one and drops the other), goes through hookledger.url_for_audit and the TypeScript rule
 * (redactedUrl.ts), which must agree.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AUDITOR_ROLE, connect, type Sql } from "../../src/db/connect.ts";
import type { Resolver } from "../../src/egress/resolver.ts";
import { redactedUrl } from "../../src/observability/redactedUrl.ts";
import { createTenant, eventually, loopbackOnlyResolver, startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { seededRandom } from "../support/seededRandom.ts";

/* eslint-disable @typescript-eslint/no-explicit-any -- view rows and API bodies are asserted field by field */

const DISCORD_TOKEN = "aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5zA7bC9dE1fG3hI5jK7lM9nO1pQ3rS5tU7vW";
/** [name, URL as given, the secrets in it, what an auditor reads]. */
const RECEIVERS: [string, string, string[], string][] = [
  ["Slack", "https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX", ["XXXXXXXXXXXXXXXXXXXXXXXX"],
    "https://hooks.slack.com/services/T0000/B0000/[redacted]"],
  ["Slack, real-shaped ids", "https://hooks.slack.com/services/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", ["q1W2e3R4t5Y6u7I8o9P0aSdF"],
    "https://hooks.slack.com/services/[redacted]/[redacted]/[redacted]"],
  ["Discord", `https://discord.com/api/webhooks/123456789012345678/${DISCORD_TOKEN}`, [DISCORD_TOKEN],
    "https://discord.com/api/webhooks/123456789012345678/[redacted]"],
  ["Power Automate",
    "https://prod-12.westus.logic.azure.com:443/workflows/4b6f1a8e2c9d4e7fa1b2c3d4e5f60718/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=Zq8vN2mK4pL6jH8gF0dS2aQ4wE6rT8yU0iO2pA4sD6f",
    ["4b6f1a8e2c9d4e7fa1b2c3d4e5f60718", "Zq8vN2mK4pL6jH8gF0dS2aQ4wE6rT8yU0iO2pA4sD6f"],
    "https://prod-12.westus.logic.azure.com/workflows/[redacted]/triggers/manual/paths/invoke?api-version=[redacted]&sp=[redacted]&sv=[redacted]&sig=[redacted]"],
  ["Teams incoming webhook",
    "https://contoso.webhook.office.com/webhookb2/6f1a2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b@72f988bf-86f1-41af-91ab-2d7cd011db47/IncomingWebhook/9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a49/0d1e2f3a-4b5c-4d6e-8f70-1a2b3c4d5e6f",
    ["6f1a2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b", "9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a49", "0d1e2f3a-4b5c-4d6e-8f70-1a2b3c4d5e6f"],
    "https://contoso.webhook.office.com/[redacted]/[redacted]/IncomingWebhook/[redacted]/[redacted]"],
  ["Zapier", "https://hooks.zapier.com/hooks/catch/123456/b7x2kqz/", ["b7x2kqz"], "https://hooks.zapier.com/hooks/catch/123456/[redacted]/"],
  ["Google Chat", "https://chat.googleapis.com/v1/spaces/AAAAbbbbCCC/messages?key=AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI&token=8dE3fGh1jK2LmN4oPq5RsT6uVw7XyZ0aBcDeFgHiJk%3D",
    ["AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI", "8dE3fGh1jK2LmN4oPq5RsT6uVw7XyZ0aBcDeFgHiJk"],
    "https://chat.googleapis.com/v1/spaces/AAAAbbbbCCC/messages?key=[redacted]&token=[redacted]"],
  ["a bare hook path", "https://ci.example.com/hooks/3f786850e387550fdab836ed7e6dc881de23001b", ["3f786850e387550fdab836ed7e6dc881de23001b"],
    "https://ci.example.com/hooks/[redacted]"],
  ["OAuth code", "https://app.example.com/oauth/callback?code=4/0AX4XfWhQ9pKzT&state=af0ifjsldkj", ["4/0AX4XfWhQ9pKzT", "af0ifjsldkj"],
    "https://app.example.com/oauth/callback?code=[redacted]&state=[redacted]"],
  ["names on no list", "https://receiver.example.net:8443/in?k=Zx81kq&t=PzW5yeK&hash=9f86d081884c7d659a2f&x-goog-signature=0a1b2c3d4e5f&solo",
    ["Zx81kq", "PzW5yeK", "9f86d081884c7d659a2f", "0a1b2c3d4e5f"],
    "https://receiver.example.net:8443/in?k=[redacted]&t=[redacted]&hash=[redacted]&x-goog-signature=[redacted]&[redacted]"],
  ["a fragment (the API drops it)", "https://spa.example.com/callback#access_token=Fr4gM3ntS3cr3tV4lu3", ["Fr4gM3ntS3cr3tV4lu3"], "https://spa.example.com/callback"],
];

let db: TestDatabase;
let app: TestApp;
let tenant: { orgId: string; token: string };
let appId: string;
let dba: Sql;
const dbaRole = `hl_test_dba_${randomBytes(6).toString("hex")}`;
/** While subscriptions are created, every host resolves (to loopback, for the API's egress check); then none does. */
let resolving = false;
const resolver: Resolver = async (hostname) => (resolving ? [{ address: "127.0.0.1", family: 4 }] : loopbackOnlyResolver(hostname));

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, { worker: true, resolver });
  tenant = await createTenant(app, "Auditor URLs");
  const application = await app.call("POST", "/v1/applications", tenant.token, { name: "urls" });
  appId = application.body.id;
  for (const name of ["url.example", "url.fuzz"]) {
    expect((await app.call("POST", `/v1/applications/${appId}/event-types`, tenant.token, { name })).status).toBe(201);
  }
  // hex only: safe inside the literal (CREATE ROLE takes no bind parameters).
  const password = randomBytes(18).toString("hex");
  await db.owner.unsafe(`create role ${dbaRole} login password '${password}' in role ${AUDITOR_ROLE}`);
  const url = new URL(db.ownerUrl);
  url.username = dbaRole;
  url.password = password;
  dba = connect(url.toString(), { max: 2, applicationName: "hookledger-test-dba" });
});
afterAll(async () => {
  await dba?.end({ timeout: 5 });
  await db?.owner.unsafe(`drop role if exists ${dbaRole}`);
  await app?.stop();
  await db?.drop();
});

/** Creates one subscription per URL (eventType only), rotates each secret, delivers one event to all (DNS fails). */
async function subscribeAndDeliver(urls: string[], eventType: string): Promise<string[]> {
  const ids: string[] = [];
  resolving = true;
  try {
    for (const url of urls) {
      const created = await app.call("POST", "/v1/subscriptions", tenant.token, { app_id: appId, url, event_types: [eventType], max_attempts: 1 });
      expect(created.status, `${url}: ${JSON.stringify(created.body)}`).toBe(201);
      ids.push(created.body.id);
      expect((await app.call("POST", `/v1/subscriptions/${created.body.id}/secret/rotate`, tenant.token, {})).status).toBe(200);
    }
  } finally {
    resolving = false;
  }
  const sent = await app.call("POST", "/v1/events", tenant.token, { app_id: appId, event_type: eventType, payload: { n: 1 } });
  expect(sent.status).toBe(202);
  await eventually(async () => {
    const [row] = await db.owner<{ n: number }[]>`
      select count(*)::int as n from hookledger.delivery_attempts where org_id = ${tenant.orgId} and subscription_id = any(${ids}::uuid[])`;
    return row!.n >= ids.length ? true : undefined;
  }, 60_000, `${ids.length} attempts`);
  return ids;
}

/** What the auditor reads of each subscription's URL, view by view, and everything the views and the API show. */
async function auditorViews(ids: string[]) {
  const byId = (rows: any[], column: string) => new Map(rows.map((row) => [row.subscription_id, row[column]]));
  const history = await dba`select subscription_id, subscription_url from hookledger_audit.delivery_history where subscription_id = any(${ids}::uuid[])`;
  const failing = await dba`select subscription_id, url from hookledger_audit.failing_endpoints where subscription_id = any(${ids}::uuid[])`;
  const rotations = await dba`select subscription_id, subscription_url from hookledger_audit.secret_rotations where subscription_id = any(${ids}::uuid[])`;
  const streams = ids.map((id) => `subscription:${id}`);
  const eventLog = await dba`select stream, type, data from hookledger_audit.event_log where org_id = ${tenant.orgId}`;
  const auditLog = await dba`select stream, type, data from hookledger_audit.audit_log where org_id = ${tenant.orgId}`;
  const api: any[] = [];
  for (let after: string | null = null; ; ) {
    const page = await app.call("GET", `/v1/audit-log?limit=250${after ? `&after=${after}` : ""}`, tenant.token);
    expect(page.status).toBe(200);
    api.push(...page.body.data);
    after = page.body.next_cursor;
    if (!after) break;
  }
  const created = (rows: any[]) => new Map(rows.filter((r) => r.type === "subscription.created" && streams.includes(r.stream)).map((r) => [r.stream.slice("subscription:".length), r.data.url]));
  return {
    urls: {
      delivery_history: byId(history, "subscription_url"),
      failing_endpoints: byId(failing, "url"),
      secret_rotations: byId(rotations, "subscription_url"),
      event_log: created(eventLog),
      audit_log: created(auditLog),
      "GET /v1/audit-log": created(api),
    },
    everything: JSON.stringify([history, failing, rotations, eventLog, auditLog, api]),
  };
}

describe("known receivers' URLs, as an auditor reads them", () => {
  let ids: string[];
  let seen: Awaited<ReturnType<typeof auditorViews>>;
  beforeAll(async () => {
    ids = await subscribeAndDeliver(RECEIVERS.map(([, url]) => url), "url.example");
    seen = await auditorViews(ids);
  });

  it.each(RECEIVERS.map((receiver, i) => [receiver[0], i] as const))("%s: every view and the audit API show where it is, not its secret", (_name, i) => {
    const [, , , expected] = RECEIVERS[i]!;
    for (const [view, urls] of Object.entries(seen.urls)) expect(urls.get(ids[i]), view).toBe(expected);
  });

  it("no secret of any of them appears anywhere an auditor or the audit API looks", () => {
    for (const [name, , secrets] of RECEIVERS) for (const secret of secrets) expect(seen.everything, `${name}: ${secret}`).not.toContain(secret);
  });

  it("the tenant still reads each URL whole", async () => {
    for (const [i, [, url]] of RECEIVERS.entries()) {
      const shown = (await app.call("GET", `/v1/subscriptions/${ids[i]}`, tenant.token)).body.url;
      expect(shown).toBe(new URL(url).href.replace(/#.*$/, ""));
    }
  });
});

describe("an ingress route's forward-auth URL, as an auditor reads it", () => {
  it("event_log, audit_log and GET /v1/audit-log show where it points, not its key", async () => {
    const secrets = ["9f8e7d6c5b4a39281706f5e4d3c2b1a0", "Fw4rdK3y9xQ2"];
    resolving = true;
    const created = await app.call("POST", "/v1/ingress-routes", tenant.token, {
      name: "forward-auth",
      auth: { type: "forward", url: `https://auth.example.com/verify/${secrets[0]}?api_key=${secrets[1]}&mode=strict` },
    }).finally(() => (resolving = false));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const stream = `ingress_route:${created.body.id}`;
    const shown = "https://auth.example.com/verify/[redacted]?api_key=[redacted]&mode=[redacted]";
    const [logged] = await dba`select data from hookledger_audit.event_log where stream = ${stream} and type = 'ingress_route.created'`;
    const [audited] = await dba`select data from hookledger_audit.audit_log where stream = ${stream} and type = 'ingress_route.created'`;
    const api = await app.call("GET", "/v1/audit-log?type=ingress_route.created", tenant.token);
    const listed = api.body.data.find((entry: any) => entry.stream === stream);
    for (const data of [logged?.data, audited?.data, listed?.data]) expect(data?.auth?.url).toBe(shown);
    for (const secret of secrets) expect(JSON.stringify([logged, audited, api.body])).not.toContain(secret);
  });
});

describe("a portal link, as an auditor reads its entries", () => {
  it("its hlp_ credential appears in no view and no audit API page, redeemed or not", async () => {
    const minted = await app.call("POST", `/v1/applications/${appId}/portal-links`, tenant.token);
    expect(minted.status, JSON.stringify(minted.body)).toBe(201);
    const link = new URL(minted.body.url).searchParams.get("link")!;
    expect(link).toMatch(/^hlp_/);
    const entered = await app.fetch(`/portal/enter?link=${encodeURIComponent(link)}`, { redirect: "manual" });
    expect(entered.status).toBe(303);
    const seen = await auditorViews([]);
    expect(seen.everything).toContain("portal.link_created");
    expect(seen.everything).toContain("portal.link_redeemed");
    expect(seen.everything).not.toContain(link.slice(-43));
  });
});

const ODD_URLS = [
  "", "not a url", "mailto:someone@example.com", "http://h", "//h/p/abcdef123456", "http://h/a?b#c?d", "https://u@h/p;x;y=z?&&=;#",
  "HTTP://H/%41%42%43", "http://h/a=b/c", "?only", "#only", "http://[::1]:8080/p?x", "http://h/a\nb?c=d\ne#f\ng", "http://a@b@h/p",
  "http://h/p?a=1?b=2&c", "urn:isbn:0451450523", "http://h/ü/abcdefghijklmnopq", "http://h/12345678901234567890/123456789012345678901",
];

const UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
const HOSTS = ["hooks.example.com", "api.example.org:8443", "127.0.0.1:9", "xn--bcher-kva.example", "hooks.slack.com"];
const SEGMENTS = ["hooks", "v1", "api", "webhooks", "T0000", "123456789012345678", "in", "catch", "events", "2016-06-01", "stripe", "github"];
const NAMES = ["code", "state", "k", "t", "hash", "x-goog-signature", "page", "id", "api-version"];
const VALUES = ["1", "acme", "2016-06-01", "true", "T0000"];
const PLACES = ["query value", "query part without =", "path segment", "inside a path segment", "path parameter", "fragment"] as const;

interface FuzzCase {
  url: string;
  /** The secret placed, and the password of the userinfo when there is one. */
  secrets: string[];
  place: (typeof PLACES)[number];
  host: string;
}

/**
 * A secret the rule promises to hide wherever it is put: 16-40 characters (not only digits), or 6-15 mixing letters
 * and digits (a path segment shorter than that, or without a digit, is told from no word and shown). A percent-escape
 * now and then, as receivers' secrets carry them.
 */
function secretOf(random: () => number): string {
  const pick = (from: string) => from[Math.floor(random() * from.length)]!;
  const long = random() < 0.6;
  const length = long ? 16 + Math.floor(random() * 25) : 6 + Math.floor(random() * 10);
  let secret = "";
  while (secret.length < length) secret += random() < 0.05 ? `%${pick("0123456789ABCDEF")}${pick("0123456789ABCDEF")}` : pick(UNRESERVED);
  // A letter and a digit in every secret: required of short ones, and keeps long ones from being a 16-20 digit id.
  const at = Math.floor(random() * (secret.length - 1));
  return `${secret.slice(0, at)}${pick("abcdefghijklmnopqrstuvwxyz")}${pick("0123456789")}${secret.slice(at + 2)}`.replace(/%[0-9A-F]?$/, "x");
}

function fuzzCases(seed: number, count: number, withCredentialsAndFragments: boolean): FuzzCase[] {
  const random = seededRandom(seed);
  const pick = <T>(from: readonly T[]) => from[Math.floor(random() * from.length)]!;
  return Array.from({ length: count }, () => {
    const secret = secretOf(random);
    const place = pick(PLACES);
    const host = pick(HOSTS);
    const segments = Array.from({ length: Math.floor(random() * 4) }, () => pick(SEGMENTS));
    const params = Array.from({ length: Math.floor(random() * 4) }, () => `${pick(NAMES)}=${pick(VALUES)}`);
    const at = <T>(list: T[]) => Math.floor(random() * (list.length + 1));
    if (place === "path segment") segments.splice(at(segments), 0, secret);
    if (place === "inside a path segment") segments.splice(at(segments), 0, `${pick(SEGMENTS)}-${secret}`);
    if (place === "path parameter") segments.push(`${pick(SEGMENTS)};${pick(["jsessionid", "sid", "k"])}=${secret}`);
    if (place === "query value") params.splice(at(params), 0, `${pick(NAMES)}=${secret}`);
    if (place === "query part without =") params.splice(at(params), 0, secret);
    const password = withCredentialsAndFragments && random() < 0.2 ? secretOf(random) : undefined;
    const userinfo = password ? `${pick(["user", "svc"])}:${password}@` : "";
    const fragment = place === "fragment" ? `#${pick(["", "access_token=", "state=x&token="])}${secret}` : withCredentialsAndFragments && random() < 0.2 ? "#top" : "";
    const query = params.length > 0 || random() < 0.1 ? `?${params.join(pick(["&", "&", ";"]))}` : "";
    const url = `${pick(["https", "http"])}://${userinfo}${host}/${segments.join("/")}${query}${fragment}`;
    return { url, secrets: password ? [secret, password] : [secret], place, host };
  });
}

describe("a fixed-seed fuzz of URLs with a secret somewhere", () => {
  it("through the API: no view and no audit API page shows the secret; host and the number of path segments stay", async () => {
    const cases = fuzzCases(20261206, 120, false);
    expect(new Set(cases.map((c) => c.place))).toEqual(new Set(PLACES));
    const ids = await subscribeAndDeliver(cases.map((c) => c.url), "url.fuzz");
    const seen = await auditorViews(ids);
    for (const [i, c] of cases.entries()) {
      const stored = (await app.call("GET", `/v1/subscriptions/${ids[i]}`, tenant.token)).body.url as string;
      for (const [view, urls] of Object.entries(seen.urls)) {
        const shown = urls.get(ids[i]) as string;
        for (const secret of c.secrets) expect(shown, `${view}: ${c.place} in ${c.url}`).not.toContain(secret);
        expect(shown, `${view}: ${c.url}`).toContain(new URL(stored).host);
        expect(shown.split(/[?#]/)[0]!.split("/").length, `${view}: ${c.url}`).toBe(stored.split(/[?#]/)[0]!.split("/").length);
      }
      for (const secret of c.secrets) expect(seen.everything, `${c.place} in ${c.url}`).not.toContain(secret);
    }
  }, 120_000);

  it("hookledger.url_for_audit (userinfo and fragments too) hides every secret, and the TypeScript rule agrees", async () => {
    const cases = fuzzCases(7_340_211, 2_000, true);
    // Then strings no API would store, on which the two rules must still agree (a ledger entry may predate checks).
    const urls = [...cases.map((c) => c.url), ...ODD_URLS];
    const rows = await db.owner<{ url: string; shown: string }[]>`
      select u.url, hookledger.url_for_audit(u.url) as shown from unnest(${urls}::text[]) with ordinality as u(url, n) order by u.n`;
    for (const [i, c] of cases.entries()) {
      const shown = rows[i]!.shown;
      for (const secret of c.secrets) expect(shown, `${c.place} in ${c.url}`).not.toContain(secret);
      expect(shown.startsWith(c.url.slice(0, c.url.indexOf("//") + 2)), c.url).toBe(true);
      expect(shown, c.url).toContain(c.host);
    }
    expect(urls.map(redactedUrl)).toEqual(rows.map((row) => row.shown));
  });

  it("the auditor's column is hookledger.url_for_audit of the stored URL", async () => {
    const [row] = await db.owner<{ differing: number; n: number }[]>`
      select count(*) filter (where url_for_audit is distinct from hookledger.url_for_audit(url))::int as differing, count(*)::int as n
      from hookledger.subscriptions where org_id = ${tenant.orgId}`;
    expect(row).toEqual({ differing: 0, n: RECEIVERS.length + 120 });
  });
});

/**
 * Error reports go through the real Sentry SDK into a transport that records envelopes (nothing is sent), so we
 * can read exactly what would leave the process.
 */
import { createTransport } from "@sentry/node";
import { describe, expect, it, vi } from "vitest";
import { ConfigError } from "../../src/config.ts";
import { createSentryReporter } from "../../src/observability/errorReporter.ts";
import { scrubReport } from "../../src/observability/scrub.ts";
import { startTestApp } from "../support/app.ts";
import { createTestDatabase } from "../support/database.ts";

const token = `hl_org_${"Ab3".repeat(14)}X`;
const secret = `whsec_${Buffer.alloc(32, 9).toString("base64")}`;

describe("error reporting", () => {
  it("sends exceptions and spans with tags, and never a token or secret", async () => {
    const envelopes: string[] = [];
    const reporter = await createSentryReporter({
      dsn: "https://publickey@o0.ingest.sentry.invalid/1",
      environment: "test",
      tracesSampleRate: 1,
      transport: (options: Parameters<typeof createTransport>[0]) =>
        createTransport(options, async (request) => {
          envelopes.push(typeof request.body === "string" ? request.body : Buffer.from(request.body).toString("utf8"));
          return { statusCode: 200 };
        }),
    });
    await reporter.span("deliver", "queue.process", async () => {
      reporter.captureException(new Error(`upstream refused Bearer ${token} signed with ${secret}`), { requestId: "req_test_0001", task: "deliver" });
    });
    await reporter.flush(2000);
    const sent = envelopes.join("\n");
    expect(sent).toContain("upstream refused [redacted] signed with [redacted]");
    expect(sent).toContain("req_test_0001");
    expect(sent).toContain('"transaction":"deliver"');
    expect(sent).not.toContain(token);
    expect(sent).not.toContain(secret.slice(6, 30));
  });

  it("drops request bodies, query strings and cookies, and redacts credential headers", () => {
    const event = scrubReport({
      message: `token ${token}`,
      request: {
        url: `https://hooks.example/v1/events?token=${token}`,
        headers: { authorization: `Bearer ${token}`, "webhook-signature": "v1,abc", "x-request-id": "req_1", cookie: "s=1" },
        data: '{"card":"4242"}',
        query_string: `token=${token}`,
        cookies: { s: "1" },
      },
      extra: { payload: { card: "4242" }, subscription_secret: secret, note: `see ${secret}` },
    });
    expect(event.request).toEqual({
      url: "https://hooks.example/v1/events",
      headers: { authorization: "[redacted]", "webhook-signature": "[redacted]", "x-request-id": "req_1", cookie: "[redacted]" },
    });
    expect(event.extra).toEqual({ payload: "[redacted]", subscription_secret: "[redacted]", note: "see [redacted]" });
    expect(event.message).toBe("token [redacted]");
  });

  it("redacts portal links and console session cookies wherever a report quotes them", () => {
    const link = `hlp_${"0a".repeat(16)}_${"1b".repeat(16)}_${"Zx81kqPzW5yeK9f8".repeat(3).slice(0, 43)}`;
    const session = `hls_${"2c".repeat(16)}_${"3d".repeat(16)}_${"q1W2e3R4t5Y6u7I8".repeat(3).slice(0, 43)}`;
    const event = scrubReport({
      message: `portal link ${link} refused`,
      breadcrumbs: [{ category: "fetch", data: { url: `https://hooks.example/portal/enter?link=${link}` } }, { message: `cookie hl_session=${session}` }],
    });
    const sent = JSON.stringify(event);
    expect(sent).not.toContain(link.slice(-43));
    expect(sent).not.toContain(session.slice(-43));
    expect(event.message).toBe("portal link [redacted] refused");
  });

  it("shows a request URL's path as auditors read URLs: a credential-shaped segment redacted", () => {
    const event = scrubReport({ request: { url: "https://hooks.example/in/0f6e5d4c-3b2a-4190-8877-665544332211/stripe-8f7a6b5c4d3e?link=x#y" } });
    expect(event.request).toEqual({ url: "https://hooks.example/in/[redacted]/[redacted]" });
  });

  it("stops start-up on a malformed DSN behind a reference, naming the setting; the SDK never sees (or prints) it", async () => {
    const db = await createTestDatabase();
    const printed = vi.spyOn(console, "error").mockImplementation(() => {});
    process.env.HL_TEST_SENTRY_DSN = "https://SENTRYKEY@notadsn";
    try {
      const starting = startTestApp(db, { env: { HOOKLEDGER_SENTRY_DSN: "env:HL_TEST_SENTRY_DSN" } });
      await expect(starting).rejects.toThrow(new ConfigError("HOOKLEDGER_SENTRY_DSN: expected a Sentry DSN of the form https://<public key>@<host>/<project id>"));
      expect(JSON.stringify(printed.mock.calls)).not.toContain("SENTRYKEY");
    } finally {
      delete process.env.HL_TEST_SENTRY_DSN;
      printed.mockRestore();
      await db.drop();
    }
  });
});

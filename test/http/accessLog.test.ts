import { describe, expect, it } from "vitest";
import { Hono } from "hono";
import { accessLog } from "../../src/http/accessLog.ts";
import type { HttpEnv } from "../../src/http/env.ts";
import { requestId } from "../../src/http/requestId.ts";
import { recordingLogger, type LoggedLine } from "../support/recordingLogger.ts";

describe("access log", () => {
  it("logs route pattern, status and request id, never the query string or credentials", async () => {
    const lines: LoggedLine[] = [];
    const app = new Hono<HttpEnv>();
    app.use(requestId());
    app.use(async (c, next) => {
      c.set("clientIp", "127.0.0.1");
      await next();
    });
    app.use(accessLog(recordingLogger(lines)));
    app.get("/v1/things/:id", (c) => c.json({ ok: true }));
    app.get("/boom", (c) => c.json({}, 503));
    await app.request("/v1/things/42?token=hl_org_secret", { headers: { authorization: "Bearer hl_org_secret", "x-request-id": "trace-0001-abcd" } });
    await app.request("/boom");
    expect(lines[0]).toEqual({
      level: "info",
      msg: "request",
      fields: { request_id: "trace-0001-abcd", method: "GET", route: "/v1/things/:id", status: 200, duration_ms: expect.any(Number), client_ip: "127.0.0.1" },
    });
    expect(JSON.stringify(lines)).not.toContain("hl_org_secret");
    expect(lines[1]?.level).toBe("warn");
  });
});

/**
 * `GET /v1/audit-log`: who changed what, when, from where and why, newest first; redacted and scoped to an
 * application token's application as described in ../auditLog.ts.
 */
import { Hono } from "hono";
import * as v from "valibot";
import type { AppContext } from "../../context.ts";
import { withTenant } from "../../db/tenant.ts";
import type { HttpEnv } from "../../http/env.ts";
import { exactObject, timestampField, uuidField } from "../../http/fields.ts";
import { page, pageRequest, paginationQuery } from "../../http/pagination.ts";
import { readQuery } from "../../http/validate.ts";
import { listAuditEntries, type AuditEntry } from "../auditLog.ts";
import { requireScope } from "../authorize.ts";
import { presentAuditEntry } from "./present.ts";

export const auditLogQuery = exactObject({
  ...paginationQuery,
  actor: v.optional(uuidField),
  type: v.optional(v.pipe(v.string(), v.regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/, "expected a dotted entry type such as token.created"))),
  since: v.optional(timestampField),
  until: v.optional(timestampField),
});

export function auditLogRoutes(ctx: AppContext): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();
  app.get("/audit-log", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "audit:read");
    const q = readQuery(c, auditLogQuery);
    const { limit, cursor } = pageRequest(q, { k: "position", id: "position" });
    const { rows, pageSize } = await withTenant(ctx.sql, auth.orgId, (tx) =>
      listAuditEntries(tx, { appId: auth.appId, actorId: q.actor, type: q.type, since: q.since, until: q.until, beforePosition: cursor?.k, limit }),
    );
    const result = page(rows, pageSize, (row) => ({ k: row.position, id: row.position }));
    return c.json({ data: result.data.map(presentAuditEntry), next_cursor: result.next_cursor });
  });
  return app;
}

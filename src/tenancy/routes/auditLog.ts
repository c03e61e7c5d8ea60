/** `GET /v1/audit-log`: who changed what, when, from where and why, newest first. */
import { Hono } from "hono";
import * as v from "valibot";
import type { AppContext } from "../../context.ts";
import { withTenant } from "../../db/tenant.ts";
import type { HttpEnv } from "../../http/env.ts";
import { timestampField, uuidField } from "../../http/fields.ts";
import { decodeCursor, page, pageRequest, paginationQuery } from "../../http/pagination.ts";
import { readQuery } from "../../http/validate.ts";
import { listAuditEntries } from "../auditLog.ts";
import { requireScope } from "../authorize.ts";

export const auditLogQuery = v.strictObject({
  ...paginationQuery,
  actor: v.optional(uuidField),
  type: v.optional(v.pipe(v.string(), v.regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/, "expected a dotted entry type such as token.created"))),
  since: v.optional(timestampField),
  until: v.optional(timestampField),
});

/** A token hash cannot be turned back into the token, but an audit reader has no use for it either. */
function withoutTokenHash(data: unknown): unknown {
  if (data === null || typeof data !== "object" || !("token_sha256" in data)) return data;
  const { token_sha256: _hash, ...rest } = data as Record<string, unknown>;
  return rest;
}

export function auditLogRoutes(ctx: AppContext): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();
  app.get("/audit-log", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "audit:read");
    const q = readQuery(c, auditLogQuery);
    const { limit, cursor } = pageRequest(q);
    if (cursor && !/^\d{1,19}$/.test(cursor.k)) decodeCursor("not-a-cursor");
    const rows = await withTenant(ctx.sql, auth.orgId, (tx) =>
      listAuditEntries(tx, { actorId: q.actor, type: q.type, since: q.since, until: q.until, beforePosition: cursor?.k, limit }),
    );
    const result = page(rows, limit, (row) => ({ k: row.position, id: row.position }));
    return c.json({
      data: result.data.map((row) => ({
        position: row.position,
        type: row.type,
        stream: row.stream,
        recorded_at: row.recorded_at,
        data: withoutTokenHash(row.data),
        ...(row.meta as object),
      })),
      next_cursor: result.next_cursor,
    });
  });
  return app;
}

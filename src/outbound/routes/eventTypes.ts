/** `/v1/applications/{app_id}/event-types`: the event types an application publishes. */
import { Hono, type Context } from "hono";
import * as v from "valibot";
import type { AppContext } from "../../context.ts";
import { withTenant } from "../../db/tenant.ts";
import type { HttpEnv } from "../../http/env.ts";
import { descriptionField, exactObject, exactRecord } from "../../http/fields.ts";
import { page, pageRequest, paginationQuery } from "../../http/pagination.ts";
import { ProblemError } from "../../http/problem.ts";
import { readJson, readQuery } from "../../http/validate.ts";
import { getApplication } from "../../tenancy/applications.ts";
import { auditMeta } from "../../tenancy/audit.ts";
import { requireScope } from "../../tenancy/authorize.ts";
import { applicationIdInPath } from "../../tenancy/routes/applicationInPath.ts";
import { createEventType, deleteEventType, EventTypeExistsError, getEventType, listEventTypes, updateEventType } from "../eventTypes.ts";
import { eventTypeNameField } from "../fields.ts";
import { assertValidPayloadSchema, InvalidPayloadSchemaError, schemaBudgetsOf, type SchemaBudgets } from "../payloadSchema.ts";
import { presentEventType } from "./present.ts";

// The top level of a schema holds keywords, a few dozen at most; the bound keeps a 1 MB object of keys from being
// walked key by key before the schema checks (which count keywords and subschemas) see it.
const schemaField = v.nullable(exactRecord(v.record(v.string(), v.unknown(), "expected a JSON Schema object or null"), { maxEntries: 1000, message: "at most 1000 keys at the top level of a schema" }));
export const eventTypeCreateBody = exactObject({
  name: eventTypeNameField,
  description: v.optional(descriptionField, null),
  schema: v.optional(schemaField, null),
  deprecated: v.optional(v.boolean(), false),
});
export const eventTypeUpdateBody = exactObject({ description: v.optional(descriptionField), schema: v.optional(schemaField), deprecated: v.optional(v.boolean()) });

export const eventTypeListQuery = exactObject({ ...paginationQuery, include_deprecated: v.optional(v.picklist(["true", "false"])) });

/** Refuses a schema the service cannot run safely, naming each problem as `schema` plus its JSON pointer. */
function checkSchema(schema: Record<string, unknown> | null | undefined, orgId: string, budgets: SchemaBudgets): void {
  if (!schema) return;
  try {
    assertValidPayloadSchema(schema, orgId, budgets);
  } catch (error) {
    if (!(error instanceof InvalidPayloadSchemaError)) throw error;
    throw new ProblemError("validation", "the schema cannot be used to validate payloads", {
      errors: error.problems.map((problem) => ({ field: `schema${problem.pointer}`, message: problem.message })),
    });
  }
}

export function eventTypeRoutes(ctx: AppContext): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();

  /** The application in the path (by id or uid), if the caller may see it. */
  const appOf = async (c: Context<HttpEnv>, options: { change: boolean } = { change: false }): Promise<string> => {
    const auth = c.get("auth");
    const appId = await applicationIdInPath(ctx, c);
    const application = await withTenant(ctx.sql, auth.orgId, (tx) => getApplication(tx, appId));
    if (!application) throw new ProblemError("not-found", "no such application");
    if (options.change && application.operational) {
      throw new ProblemError("conflict", "the operational application's event types are hookledger's: they cannot be created, changed or deleted");
    }
    return appId;
  };
  const nameOf = (c: Context<HttpEnv>) => {
    const name = c.req.param("name") ?? "";
    if (!v.is(eventTypeNameField, name)) throw new ProblemError("not-found", "no such event type");
    return name;
  };

  app.post("/applications/:app_id/event-types", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "applications:write");
    const appId = await appOf(c, { change: true });
    const body = await readJson(c, eventTypeCreateBody);
    checkSchema(body.schema, auth.orgId, schemaBudgetsOf(ctx.config));
    try {
      const created = await createEventType(ctx, auth.orgId, { appId, ...body }, auditMeta(c));
      if (!created) throw new ProblemError("not-found", "no such application");
      return c.json(presentEventType(created), 201);
    } catch (error) {
      if (error instanceof EventTypeExistsError) throw new ProblemError("conflict", `event type ${body.name} already exists`);
      throw error;
    }
  });

  app.get("/applications/:app_id/event-types", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "applications:read");
    const appId = await appOf(c);
    const query = readQuery(c, eventTypeListQuery);
    const { limit, cursor } = pageRequest(query, { k: "name", id: "name" });
    const rows = await withTenant(ctx.sql, auth.orgId, (tx) =>
      listEventTypes(tx, appId, { limit, afterName: cursor?.k, includeDeprecated: query.include_deprecated !== "false" }),
    );
    const result = page(rows, limit, (row) => ({ k: row.name, id: row.name }));
    return c.json({ data: result.data.map(presentEventType), next_cursor: result.next_cursor });
  });

  app.get("/applications/:app_id/event-types/:name", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "applications:read");
    const appId = await appOf(c);
    const found = await withTenant(ctx.sql, auth.orgId, (tx) => getEventType(tx, appId, nameOf(c)));
    if (!found) throw new ProblemError("not-found", "no such event type");
    return c.json(presentEventType(found));
  });

  app.patch("/applications/:app_id/event-types/:name", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "applications:write");
    const appId = await appOf(c, { change: true });
    const name = nameOf(c);
    const body = await readJson(c, eventTypeUpdateBody);
    checkSchema(body.schema, auth.orgId, schemaBudgetsOf(ctx.config));
    const updated = await updateEventType(ctx, auth.orgId, appId, name, body, auditMeta(c));
    if (!updated) throw new ProblemError("not-found", "no such event type");
    return c.json(presentEventType(updated));
  });

  app.delete("/applications/:app_id/event-types/:name", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "applications:write");
    const appId = await appOf(c, { change: true });
    const meta = auditMeta(c, { reasonRequired: ctx.config.HOOKLEDGER_REQUIRE_AUDIT_REASON });
    if (!(await deleteEventType(ctx, auth.orgId, appId, nameOf(c), meta))) throw new ProblemError("not-found", "no such event type");
    return c.body(null, 204);
  });

  return app;
}

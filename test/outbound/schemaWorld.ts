/**
 * Shared set-up of the event-type schema tests: a database, an app and a tenant with a `plain.event` type, and
 * helpers that create event types with schemas, send payloads and check that a schema is refused everywhere.
 */
import { afterAll, beforeAll, expect } from "vitest";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { outboundTenant } from "./setup.ts";

/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are parsed JSON */

/** Ajv's own wording for its internals, which a problem must never quote. */
const AJV_INTERNALS = /maximum call stack|can't resolve|schema is invalid|no schema with key|data\/|strict mode|ajv/i;

/**
 * Schema time budgets no test run reaches (HOOKLEDGER_SCHEMA_COMPILE_MS, HOOKLEDGER_SCHEMA_MATCHING_MS), for tests
 * that must not hit them. Both are measured on the clock: on a loaded machine a file's ordinary schemas used up the
 * default compile budget (429 on later creates and sends) and an ordinary large payload the matching one (422). A
 * test that must reach a budget keeps the default with an input far beyond it.
 */
export const ROOMY_SCHEMA_BUDGETS = { HOOKLEDGER_SCHEMA_COMPILE_MS: "600000", HOOKLEDGER_SCHEMA_MATCHING_MS: "60000" };

/**
 * Call at the top of a test file (or of a describe block): the world is ready inside its tests. `prefix` names the
 * event types it creates; `env` is the app's configuration beside the tests' defaults.
 */
export function schemaWorld(prefix: string, env: Record<string, string> = {}) {
  const world = {} as { db: TestDatabase; app: TestApp; t: Awaited<ReturnType<typeof outboundTenant>> };
  beforeAll(async () => {
    world.db = await createTestDatabase();
    world.app = await startTestApp(world.db, { env });
    world.t = await outboundTenant(world.app, ["plain.event"]);
  });
  afterAll(async () => {
    await world.app?.stop();
    await world.db.drop();
  });

  let created = 0;
  const createType = (schema: unknown) =>
    world.app.call("POST", `/v1/applications/${world.t.appId}/event-types`, world.t.token, { name: `${prefix}.case_${++created}`, schema });
  const patchType = (name: string, schema: unknown) => world.app.call("PATCH", `/v1/applications/${world.t.appId}/event-types/${name}`, world.t.token, { schema });
  const send = (eventType: string, payload: unknown) => world.t.send({ event_type: eventType, payload });
  /** Sends the payload as written, so that `1.0` reaches the server as JSON.stringify would never spell it. */
  const sendRaw = async (eventType: string, payloadText: string) => {
    const response = await world.app.fetch("/v1/events", {
      method: "POST",
      headers: { authorization: `Bearer ${world.t.token}`, "content-type": "application/json" },
      body: `{"app_id":"${world.t.appId}","event_type":"${eventType}","payload":${payloadText}}`,
    });
    return { status: response.status, body: (await response.json()) as any };
  };

  /** 400 naming `field` at create and at PATCH, no Ajv internals quoted, and nothing written. */
  async function expectSchemaRefused(schema: unknown, field: string, message: RegExp) {
    const { db, app, t } = world;
    const before = await db.owner`select count(*)::int as n from hookledger.ledger`;
    const createdResponse = await createType(schema);
    expect(createdResponse.status, JSON.stringify(createdResponse.body)).toBe(400);
    expect(createdResponse.body.type).toBe("urn:hookledger:problem:validation");
    expect(createdResponse.body.errors).toEqual(expect.arrayContaining([{ field, message: expect.stringMatching(message) }]));
    expect(JSON.stringify(createdResponse.body)).not.toMatch(AJV_INTERNALS);
    // The same schema given to an existing event type by PATCH is refused the same way, and nothing changes.
    const patched = await patchType("plain.event", schema);
    expect(patched.status).toBe(400);
    expect(patched.body.errors).toEqual(createdResponse.body.errors);
    expect((await app.call("GET", `/v1/applications/${t.appId}/event-types/plain.event`, t.token)).body.schema).toBeNull();
    expect(await db.owner`select count(*)::int as n from hookledger.ledger`).toEqual(before);
  }

  return { world, createType, patchType, send, sendRaw, expectSchemaRefused };
}

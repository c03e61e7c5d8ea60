/**
 * No message body, secret or header value of any ledger entry type reaches an auditor or GET /v1/audit-log.
 *
 * Enumerated, not sampled: every field of every type in the entry catalogue is walked. A field that cannot hold
 * free text (number, boolean, picklist, literal, UUID) is safe by construction; any other field must be listed
 * here, as safe to show or as redacted, so a new type or field that is neither fails the first test. Then one
 * entry of every type (one per variant of its data) is appended with a unique marker in each text field, and
 * hookledger_audit.event_log, hookledger_audit.audit_log and the API must show the same data: every redacted
 * marker absent, every safe one present (so the test cannot pass by showing nothing).
 */
import { createHash, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withTenant } from "../../src/db/tenant.ts";
import { appendToStreams, STREAM_DOES_NOT_EXIST } from "../../src/ledger/append.ts";
import { entryCatalogue, entrySchemas } from "../../src/compose/entryTypes.ts";
import type { NewEntry } from "../../src/ledger/catalogue.ts";
import { createTenant, startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { REDACTED_FIELDS, SAFE_FIELDS, URL_FIELDS } from "./fieldClassification.ts";

/* eslint-disable @typescript-eslint/no-explicit-any -- rows and API bodies are asserted field by field */

/** The parts of a valibot schema this walker reads. */
interface SchemaNode {
  type: string;
  pipe?: readonly { type: string; requirement?: unknown }[];
  wrapped?: SchemaNode;
  entries?: Record<string, SchemaNode>;
  options?: readonly (SchemaNode | string)[];
  item?: SchemaNode;
  value?: SchemaNode;
  literal?: unknown;
}

const join = (path: string, key: string) => (path ? `${path}.${key}` : key);
const isUuid = (node: SchemaNode) => node.type === "string" && (node.pipe ?? []).some((action) => action.type === "uuid");
/** Types whose values cannot carry text of anyone's choosing. */
const constrained = (node: SchemaNode): boolean =>
  ["number", "boolean", "picklist", "literal", "never"].includes(node.type) || isUuid(node) || (node.type === "array" && constrained(node.item!));

/** Paths of the fields of a schema that can hold free text (variants contribute the fields of every option). */
function textFields(node: SchemaNode, path = "", out = new Set<string>()): Set<string> {
  switch (node.type) {
    case "optional":
    case "nullable":
      return textFields(node.wrapped!, path, out);
    case "object":
    case "strict_object":
      for (const [key, entry] of Object.entries(node.entries!)) textFields(entry, join(path, key), out);
      return out;
    case "variant":
      for (const option of node.options as SchemaNode[]) textFields(option, path, out);
      return out;
    case "array":
      // A list of records (an event's fan-out: delivery and subscription ids) is classified field by field.
      if (node.item?.type === "object" || node.item?.type === "strict_object") return textFields(node.item, path, out);
      if (!constrained(node)) out.add(path);
      return out;
    case "string":
    case "record":
    case "unknown":
      if (!constrained(node)) out.add(path);
      return out;
    default:
      if (constrained(node)) return out;
      throw new Error(`teach this test the valibot schema type "${node.type}" (at ${path || "the root"})`);
  }
}

/** How many data shapes a schema has: the largest variant's number of options (1 without variants). */
function shapes(node: SchemaNode): number {
  if (node.wrapped) return shapes(node.wrapped);
  if (node.type === "variant") return Math.max(node.options!.length, ...(node.options as SchemaNode[]).map(shapes));
  if (node.entries) return Math.max(1, ...Object.values(node.entries).map(shapes));
  return 1;
}

interface Sample {
  type: string;
  stream: string;
  data: unknown;
  /** Marker written into each text field, by path. */
  markers: Map<string, string>;
}

/** A value for every field (optional ones included), with a unique marker in each text field. */
function sampleValue(node: SchemaNode, path: string, shape: number, markers: Map<string, string>): unknown {
  const marker = () => {
    const value = `mk${randomUUID().replaceAll("-", "").slice(0, 16)}`;
    markers.set(path, value);
    return value;
  };
  switch (node.type) {
    case "optional":
    case "nullable":
      return sampleValue(node.wrapped!, path, shape, markers);
    case "object":
    case "strict_object":
      return Object.fromEntries(
        Object.entries(node.entries!)
          .filter(([, entry]) => entry.type !== "never" && !(entry.type === "optional" && entry.wrapped?.type === "never"))
          .map(([key, entry]) => [key, sampleValue(entry, join(path, key), shape, markers)]),
      );
    case "variant": {
      const options = node.options as SchemaNode[];
      return sampleValue(options[shape % options.length]!, path, shape, markers);
    }
    case "string": {
      if (isUuid(node)) return randomUUID();
      const value = marker();
      // A format-checked string (a hex digest) gets a marker in that format: the digest of the marker.
      if ((node.pipe ?? []).some((action) => action.type === "regex")) {
        const digest = createHash("sha256").update(value).digest("hex");
        markers.set(path, digest);
        return digest;
      }
      return value;
    }
    case "number":
      return 3;
    case "boolean":
      return true;
    case "picklist":
      return (node.options as string[])[0];
    case "literal":
      return node.literal;
    case "array":
      return [sampleValue(node.item!, path, shape, markers)];
    case "record":
      // The key is a header name (or a label key) and stays visible; the value is what a redaction must remove.
      return { [`x-name-${path.replaceAll(".", "-")}`]: sampleValue(node.value!, path, shape, markers) };
    case "unknown":
      return marker();
    default:
      throw new Error(`no sample for the valibot schema type "${node.type}" (at ${path})`);
  }
}

const at = (data: unknown, path: string): unknown =>
  path.split(".").reduce<unknown>((value, key) => (value !== null && typeof value === "object" ? (value as Record<string, unknown>)[key] : undefined), data);

const catalogue = Object.entries(entrySchemas) as [string, SchemaNode][];

/** The names a "header names" field shows: its own keys, then those of the fields shown among them (jsonb's order). */
const namesShownIn = (data: unknown, path: string): string[] => {
  const merged = [path, ...Object.keys(REDACTED_FIELDS).filter((field) => REDACTED_FIELDS[field] === `names in ${path}`)];
  const names = merged.flatMap((field) => Object.keys((at(data, field) as object | undefined) ?? {}));
  return names.sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0));
};

describe("every field of every entry type is classified", () => {
  it("as safe to show or as redacted — a new body- or secret-bearing field fails here until it is classified", () => {
    const unclassified = catalogue.flatMap(([type, schema]) =>
      [...textFields(schema)].filter((path) => !SAFE_FIELDS.has(path) && !URL_FIELDS.has(path) && !(path in REDACTED_FIELDS)).map((path) => `${type}: ${path}`),
    );
    expect(unclassified).toEqual([]);
  });

  it("with no stale classification (every listed field exists in some type)", () => {
    const used = new Set(catalogue.flatMap(([, schema]) => [...textFields(schema)]));
    expect([...SAFE_FIELDS, ...URL_FIELDS, ...Object.keys(REDACTED_FIELDS)].filter((path) => !used.has(path))).toEqual([]);
  });
});

describe("what auditors and the audit API see of every entry type", () => {
  let db: TestDatabase;
  let app: TestApp;
  let tenant: { orgId: string; token: string; tokenId: string };
  const samples: Sample[] = [];
  let eventLog: Map<string, any>;
  let auditLog: Map<string, any>;
  let api: Map<string, any>;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestApp(db);
    tenant = await createTenant(app, "Redaction");
    for (const [type, schema] of catalogue) {
      for (let shape = 0; shape < shapes(schema); shape++) {
        const markers = new Map<string, string>();
        // Validated by the catalogue itself: each sample is an entry the ledger accepts.
        const { data } = entryCatalogue.validate({ type, data: sampleValue(schema, "", shape, markers) });
        samples.push({ type, stream: `redaction:${type}:${shape}`, data, markers });
      }
    }
    const meta = { actor: { kind: "token" as const, id: tenant.tokenId, label: "redaction suite" }, request_id: "redaction-suite-0001" };
    await withTenant(db.service, tenant.orgId, (tx) =>
      appendToStreams(tx, samples.map((s) => ({ stream: s.stream, expectedStreamVersion: STREAM_DOES_NOT_EXIST, entries: [{ type: s.type, data: s.data, meta } as NewEntry] })), entryCatalogue),
    );
    const byStream = (rows: any[]) => new Map(rows.filter((r) => r.stream.startsWith("redaction:")).map((r) => [r.stream, r]));
    eventLog = byStream(await withTenant(db.service, tenant.orgId, (tx) => tx`select stream, type, data from hookledger_audit.event_log`));
    auditLog = byStream(await withTenant(db.service, tenant.orgId, (tx) => tx`select stream, type, data from hookledger_audit.audit_log`));
    const listed: any[] = [];
    for (let after: string | null = null; ; ) {
      const response = await app.call("GET", `/v1/audit-log?limit=250${after ? `&after=${after}` : ""}`, tenant.token);
      expect(response.status).toBe(200);
      listed.push(...response.body.data);
      after = response.body.next_cursor;
      if (!after) break;
    }
    api = byStream(listed);
  });
  afterAll(async () => {
    await app?.stop();
    await db?.drop();
  });

  it("has one entry of every catalogued type, as written (the markers are really in the ledger)", async () => {
    expect(new Set(samples.map((s) => s.type))).toEqual(new Set(Object.keys(entrySchemas)));
    const raw = JSON.stringify(await db.owner`select data from hookledger.ledger where org_id = ${tenant.orgId} and stream like 'redaction:%'`);
    for (const sample of samples) for (const marker of sample.markers.values()) expect(raw).toContain(marker);
  });

  it("event_log, audit_log and GET /v1/audit-log show the same data for every entry", () => {
    for (const sample of samples) {
      const shown = eventLog.get(sample.stream)?.data;
      expect(shown, sample.stream).toBeDefined();
      expect(auditLog.get(sample.stream)?.data, sample.stream).toEqual(shown);
      expect(api.get(sample.stream)?.data, sample.stream).toEqual(shown);
    }
  });

  it("removes bodies and secrets and reduces header maps to their names", () => {
    let redactions = 0;
    for (const sample of samples) {
      const shown = eventLog.get(sample.stream).data;
      for (const [path, marker] of sample.markers) {
        const rule = REDACTED_FIELDS[path];
        if (!rule) continue;
        redactions++;
        expect(JSON.stringify([shown, api.get(sample.stream).data]), `${sample.type}: ${path}`).not.toContain(marker);
        if (rule === "header names") expect(at(shown, path), `${sample.type}: ${path}`).toEqual(namesShownIn(sample.data, path));
        else expect(at(shown, path), `${sample.type}: ${path}`).toBeUndefined();
        if (rule === "names in headers") expect(at(shown, "headers"), `${sample.type}: ${path}`).toEqual(expect.arrayContaining(Object.keys(at(sample.data, path) as object)));
      }
    }
    expect(redactions).toBeGreaterThanOrEqual(Object.keys(REDACTED_FIELDS).length);
  });

  it("shows URL fields as auditors read URLs: a marker, credential-shaped as a path, reads [redacted]", () => {
    let urls = 0;
    for (const sample of samples) {
      for (const [path, marker] of sample.markers) {
        if (!URL_FIELDS.has(path)) continue;
        urls++;
        expect(JSON.stringify([eventLog.get(sample.stream).data, api.get(sample.stream).data]), `${sample.type}: ${path}`).not.toContain(marker);
        expect(at(eventLog.get(sample.stream).data, path), `${sample.type}: ${path}`).toBe("[redacted]");
      }
    }
    expect(urls).toBeGreaterThanOrEqual(URL_FIELDS.size);
  });

  it("keeps every field classified safe", () => {
    for (const sample of samples) {
      const shown = JSON.stringify(eventLog.get(sample.stream).data);
      for (const [path, marker] of sample.markers) if (SAFE_FIELDS.has(path)) expect(shown, `${sample.type}: ${path}`).toContain(marker);
    }
  });
});

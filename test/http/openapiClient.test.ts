/**
 * An SDK generator gets typed answers from /openapi.json. openapi-typescript generates types from the served
 * document into a temporary folder; a small client file that reads fields of typed answers is then type-checked
 * with the project's TypeScript. A response without a schema leaves its `content` undefined (or `unknown`), and
 * the check fails.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import openapiTS, { astToString } from "openapi-typescript";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;
let app: TestApp;
let folder: string;
let document: { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>> };

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db);
  document = await (await app.fetch("/openapi.json")).json();
  folder = await mkdtemp(path.join(tmpdir(), "hookledger-client-"));
});
afterAll(async () => {
  await app?.stop();
  await db?.drop();
  if (folder) await rm(folder, { recursive: true, force: true });
});

/** Hand-written calls a client makes: each reads fields that exist only if the answer's schema is there. */
const typedCalls = `
import type { components, paths } from "./api.ts";

type Json<P extends keyof paths, M extends keyof paths[P], S extends number> = paths[P][M] extends { responses: infer R }
  ? S extends keyof R ? R[S] extends { content: { "application/json": infer B } } ? B : never : never
  : never;

export function applicationName(created: paths["/v1/applications"]["post"]["responses"]["201"]["content"]["application/json"]): string {
  const id: string = created.id;
  const when: string = created.created_at;
  // @ts-expect-error an application has no app_id: the type is the documented shape, not any
  void created.app_id;
  return id + when + created.name;
}

export function subscriptionSecret(created: paths["/v1/subscriptions"]["post"]["responses"]["201"]["content"]["application/json"]): string {
  const health: number = created.health.consecutive_failures;
  return created.app_id + created.secret + String(health);
}

export function eventDeliveries(event: Json<"/v1/events/{event_id}", "get", 200>): string[] {
  const statuses: ("pending" | "retrying" | "succeeded" | "failed" | "cancelled" | "aborted")[] = event.deliveries.map((delivery) => delivery.status);
  return statuses;
}

export function pageOfAttempts(page: paths["/v1/attempts"]["get"]["responses"]["200"]["content"]["application/json"]): (string | null)[] {
  return [page.next_cursor, ...page.data.map((attempt) => attempt.response_excerpt)];
}

export function accepted(receipt: paths["/in/{route_id}"]["post"]["responses"]["202"]["content"]["application/json"]): string {
  return receipt.receipt_id;
}

export function leased(answer: paths["/v1/pull/{queue}/dequeue"]["post"]["responses"]["200"]["content"]["application/json"]): string[] {
  return answer.messages.map((message) => message.receipt.body_base64);
}

export function fieldErrors(problem: paths["/v1/applications"]["post"]["responses"]["400"]["content"]["application/problem+json"]): string[] {
  const status: number = problem.status;
  return [String(status), ...(problem.errors ?? []).map((error) => \`\${error.field}: \${error.message}\`)];
}

export const named: components["schemas"]["Subscription"]["signature_scheme"][] = ["standard-webhooks", "hookledger-v1"];
`;

/** One line per JSON success answer in the document: each must resolve to an object type, not unknown. */
function everySuccess(): string {
  const lines: string[] = ['import type { paths } from "./api.ts";', "type IsObject<T> = unknown extends T ? false : T extends object ? true : false;"];
  let n = 0;
  for (const [route, methods] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      for (const [status, response] of Object.entries(operation.responses)) {
        if (!/^2\d\d$/.test(status) || !response.content?.["application/json"]) continue;
        n += 1;
        lines.push(`export const ok${n}: IsObject<paths[${JSON.stringify(route)}][${JSON.stringify(method)}]["responses"][${status}]["content"]["application/json"]> = true;`);
      }
    }
  }
  return lines.join("\n");
}

function typeErrors(files: string[]): string[] {
  const program = ts.createProgram(files, {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    allowImportingTsExtensions: true,
    noUncheckedIndexedAccess: true,
    types: [],
    lib: ["lib.es2022.d.ts"],
  });
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const where = diagnostic.file ? `${path.basename(diagnostic.file.fileName)}:${diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start ?? 0).line + 1} ` : "";
    return where + ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n");
  });
}

describe("a client generated from /openapi.json", () => {
  it("type-checks typed calls against every documented answer", async () => {
    await writeFile(path.join(folder, "api.ts"), astToString(await openapiTS(document as never)));
    await writeFile(path.join(folder, "calls.ts"), typedCalls);
    await writeFile(path.join(folder, "everySuccess.ts"), everySuccess());
    expect(everySuccess().split("\n").length).toBeGreaterThan(50);
    expect(typeErrors([path.join(folder, "calls.ts"), path.join(folder, "everySuccess.ts")])).toEqual([]);
  }, 60_000);
});

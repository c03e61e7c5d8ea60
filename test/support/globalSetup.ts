/**
 * One real Postgres per test run: embedded (in a temporary folder) unless DATABASE_URL is set. A template
 * database is migrated once; every test file clones its own database from it (see database.ts), so files run in
 * parallel and never see each other's rows.
 */
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { connect, withDatabase } from "../../src/db/connect.ts";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "../../src/db/embedded.ts";
import { prepareDatabase } from "../../src/compose/database.ts";
import { createLogger } from "../../src/log.ts";
import { freePort } from "./freePort.ts";

export const TEMPLATE_DATABASE = "hookledger_test_template";

declare module "vitest" {
  export interface ProvidedContext {
    postgresUrl: string;
  }
}


let embedded: EmbeddedDatabase | undefined;
let dataRoot: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  let url = process.env.DATABASE_URL;
  if (!url) {
    dataRoot = await mkdtemp(path.join(tmpdir(), "hookledger-test-"));
    // mkdtemp makes the folder 0700; under root the server runs as "postgres" and must be able to enter it.
    await chmod(dataRoot, 0o755);
    embedded = await startEmbeddedPostgres({ dataDir: path.join(dataRoot, "pg"), port: await freePort() });
    url = embedded.url;
  }
  const admin = connect(url, { max: 1, applicationName: "hookledger-test-setup" });
  try {
    await admin.unsafe(`drop database if exists ${TEMPLATE_DATABASE} with (force)`);
    await admin.unsafe(`create database ${TEMPLATE_DATABASE}`);
  } finally {
    await admin.end();
  }
  await prepareDatabase({
    ownerUrl: withDatabase(url, TEMPLATE_DATABASE),
    manageServicePassword: true,
    partitionsAhead: 3,
    log: createLogger("warn"),
  });
  project.provide("postgresUrl", url);
}

export async function teardown(): Promise<void> {
  await embedded?.stop();
  if (dataRoot) await rm(dataRoot, { recursive: true, force: true });
}

/**
 * The operations this layer serves itself (health, metrics, this document). The capabilities' operations arrive
 * from the top (src/compose/operations.ts); a test fails if a served route is missing from the document (or
 * documented but not served).
 */
import * as v from "valibot";
import { healthJson, readinessJson } from "../health.ts";
import { operation as op, type Operation } from "./operation.ts";

export type { Operation } from "./operation.ts";

const openApiJson = v.looseObject({ openapi: v.string(), info: v.looseObject({ title: v.string(), version: v.string() }), paths: v.record(v.string(), v.unknown()) });

export const serviceOperations: readonly Operation[] = [
  op("GET", "/health", "Operations", "Liveness: the process answers.", { success: 200, response: healthJson }),
  op("GET", "/ready", "Operations", "Readiness: database, migrations and worker.", {
    success: 200,
    response: readinessJson,
    otherResponses: { 503: { description: "Not ready: the checks say which part is failing", response: readinessJson } },
  }),
  op("GET", "/metrics", "Operations", "Prometheus metrics (metrics token, or loopback clients).", {
    success: 200,
    response: v.string(),
    mediaType: "text/plain",
    problems: ["unauthorized", "forbidden"],
  }),
  op("GET", "/openapi.json", "Operations", "This document.", { success: 200, response: openApiJson }),
  op("GET", "/docs", "Operations", "Interactive API reference.", { success: 200, response: v.string(), mediaType: "text/html" }),
];

/**
 * The operations this layer serves itself (health, metrics, this document). The capabilities' operations arrive
 * from the top (src/compose/operations.ts); a test fails if a served route is missing from the document (or
 * documented but not served).
 */
import { operation as op, type Operation } from "./operation.ts";

export type { Operation } from "./operation.ts";

export const serviceOperations: readonly Operation[] = [
  op("GET", "/health", "Operations", "Liveness: the process answers.", { success: 200 }),
  op("GET", "/ready", "Operations", "Readiness: database, migrations and worker.", { success: 200 }),
  op("GET", "/metrics", "Operations", "Prometheus metrics (metrics token, or loopback clients).", { success: 200 }),
  op("GET", "/openapi.json", "Operations", "This document.", { success: 200 }),
  op("GET", "/docs", "Operations", "Interactive API reference.", { success: 200 }),
];

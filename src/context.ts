/** What commands, handlers and tasks need from the running process, passed explicitly (no module singletons). */
import type { Config } from "./config.ts";
import type { Sql } from "./db/connect.ts";
import type { Ledger } from "./ledger/ledger.ts";
import type { Logger } from "./log.ts";
import type { EgressClient } from "./egress/client.ts";
import type { Keyring } from "./crypto/keyring.ts";
import type { SecretResolver } from "./secrets/references.ts";
import type { Metrics } from "./observability/metrics.ts";
import type { ErrorReporter } from "./observability/errorReporter.ts";
import type { Tracing } from "./observability/tracing.ts";
import type { Tx } from "./db/connect.ts";
import type { EntryMeta } from "./ledger/entryMeta.ts";

/**
 * Run inside the transaction that deletes an application, before its deletion is appended: how a capability that
 * owns rows of the application (outbound's subscriptions) says what their deletion means, without tenancy
 * knowing that capability. Composed at start-up (compose/lifecycle.ts).
 */
export type ApplicationDeletionHook = (ctx: AppContext, tx: Tx, orgId: string, appId: string, meta: EntryMeta) => Promise<void>;

export interface AppContext {
  readonly config: Config;
  readonly log: Logger;
  /** Service-role pool: row-level security applies; use withTenant for tenant data. */
  readonly sql: Sql;
  readonly ledger: Ledger;
  /** The only way to make outbound HTTP requests (SSRF policy enforced). */
  readonly egress: EgressClient;
  /** Resolves secret references (env:, file:, vault:, raw: in development) when a secret is configured. */
  readonly secrets: SecretResolver;
  /** Encrypts signing secrets at rest. */
  readonly keyring: Keyring;
  /** Sentry when configured, otherwise a no-op: capture errors at our own boundaries. */
  readonly errors: ErrorReporter;
  /** Prometheus counters of this process. */
  readonly metrics: Metrics;
  /** OpenTelemetry spans when OTLP export is configured; test `enabled` before any tracing work. */
  readonly tracing: Tracing;
  /** What other capabilities do when an application is deleted. */
  readonly applicationDeletionHooks: readonly ApplicationDeletionHook[];
  /** Clock, injectable so tests control time-dependent behaviour. */
  readonly now: () => Date;
}

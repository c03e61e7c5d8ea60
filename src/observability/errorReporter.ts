/**
 * Error reporting to Sentry when HOOKLEDGER_SENTRY_DSN is set; a no-op otherwise.
 *
 * Why explicit: @sentry/node's auto-instrumentation does not hook Bun (no module.register, no http diagnostics
 * channel), so we initialise it without default integrations, capture errors at our own boundaries (the HTTP
 * error handler, task failures) and open spans ourselves. The SDK is imported only when a DSN is configured.
 * Every event passes through scrubReport first: tokens, secrets, signature headers and bodies never leave.
 */
import { VERSION } from "../version.ts";
import { scrubReport, scrubText } from "./scrub.ts";

export interface ErrorContext {
  requestId?: string;
  route?: string;
  task?: string;
  orgId?: string;
}

export interface ErrorReporter {
  readonly enabled: boolean;
  captureException(error: unknown, context?: ErrorContext): void;
  /** Runs `fn` inside a span (a transaction when it is the outermost). */
  span<T>(name: string, op: string, fn: () => Promise<T>): Promise<T>;
  flush(timeoutMs?: number): Promise<void>;
}

export const noErrorReporter: ErrorReporter = {
  enabled: false,
  captureException: () => undefined,
  span: (_name, _op, fn) => fn(),
  flush: async () => undefined,
};

export interface SentryOptions {
  dsn: string;
  environment: string;
  tracesSampleRate: number;
  /** Tests pass a transport that records envelopes instead of sending them. */
  transport?: unknown;
}

export async function createSentryReporter(options: SentryOptions): Promise<ErrorReporter> {
  const Sentry = await import("@sentry/node");
  Sentry.init({
    dsn: options.dsn,
    environment: options.environment,
    release: `hookledger@${VERSION}`,
    defaultIntegrations: false,
    integrations: [],
    tracesSampleRate: options.tracesSampleRate,
    ...(options.transport ? { transport: options.transport as never } : {}),
    beforeSend: (event) => scrubReport(event),
    // Spans are streamed (SDK v11 default), so transactions never pass beforeSendTransaction: scrub each span.
    beforeSendSpan: (span) => scrubReport(span),
    beforeBreadcrumb: (breadcrumb) => ({ ...breadcrumb, message: breadcrumb.message ? scrubText(breadcrumb.message) : breadcrumb.message, data: undefined }),
  });
  return {
    enabled: true,
    captureException(error, context = {}) {
      Sentry.withScope((scope) => {
        if (context.requestId) scope.setTag("request_id", context.requestId);
        if (context.route) scope.setTag("route", context.route);
        if (context.task) scope.setTag("task", context.task);
        if (context.orgId) scope.setTag("org_id", context.orgId);
        Sentry.captureException(error);
      });
    },
    span: (name, op, fn) => Sentry.startSpan({ name, op }, fn),
    async flush(timeoutMs = 2000) {
      await Sentry.flush(timeoutMs);
    },
  };
}

/** Hono environment shared by every route: what middleware puts on the context. */

/**
 * Who the bearer token belongs to. This layer needs only the token id (per-token rate limits); the capability that
 * authenticates adds the rest by declaration merging (tenancy/principal.ts), Hono's own way of typing variables.
 */
export interface AuthenticatedCaller {
  tokenId: string;
}

export interface HttpVariables {
  requestId: string;
  clientIp: string;
  /** Set by the bearer-token middleware on every `/v1` route. */
  auth: AuthenticatedCaller;
  /** The request span's W3C traceparent, set only while traces are exported (observability/requestSpans.ts). */
  traceparent?: string;
  /** Set by a route whose answer carries a secret shown once (secretShownOnce.ts): never kept for a repeat. */
  secretShownOnce?: boolean;
}

export interface HttpBindings {
  /** From the runtime adapter (see serve/). */
  clientIp?: string;
  /** Subject of the verified client certificate, on mutual TLS listeners. */
  clientIdentity?: string;
  /** The listener that took the request; absent on the main one. */
  listener?: string;
}

export interface HttpEnv {
  Bindings: HttpBindings;
  Variables: HttpVariables;
}

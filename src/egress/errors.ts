/**
 * Mapping runtime errors to the five error classes delivery records keep, with a message a tenant may read.
 *
 * Messages are fixed sentences chosen here, never `error.message`: runtime messages carry resolved addresses,
 * ports and library internals ("connect ECONNREFUSED 10.1.2.3:443"), which tell a tenant about our network.
 */
export type EgressErrorClass = "dns" | "blocked" | "connection" | "tls" | "timeout";

export interface ClassifiedError {
  errorClass: EgressErrorClass;
  message: string;
}

/**
 * Raised by our own timers, so a timeout is never confused with a peer that reset the connection.
 *
 * @example
 * request.destroy(new EgressTimeoutError("connect", 5000));
 */
export class EgressTimeoutError extends Error {
  override readonly name = "EgressTimeoutError";
  readonly code = "EGRESS_TIMEOUT";
  constructor(readonly phase: "dns" | "connect" | "total", readonly limitMs: number) {
    super(`egress ${phase} timeout after ${limitMs} ms`);
  }
}

/** Context for messages that should name the limit that was hit. */
export interface ErrorContext {
  maxHeaderBytes: number;
}

const dnsCodes = new Set(["ENOTFOUND", "EAI_AGAIN", "EAI_FAIL", "EAI_NONAME", "EAI_NODATA", "ENODATA", "ESERVFAIL", "ENONAME", "EREFUSED"]);

const connectionMessages: Record<string, string> = {
  ECONNREFUSED: "the destination refused the connection",
  ECONNRESET: "the destination closed the connection unexpectedly",
  EHOSTUNREACH: "the destination host is unreachable",
  ENETUNREACH: "the destination network is unreachable",
  EPIPE: "the destination closed the connection while the request was being sent",
  ECONNABORTED: "the connection was aborted",
  EADDRNOTAVAIL: "no route to the destination address",
};

const tlsMessages: Record<string, string> = {
  ERR_TLS_CERT_ALTNAME_INVALID: "the TLS certificate is not valid for this host name",
  CERT_HAS_EXPIRED: "the TLS certificate has expired",
  CERT_NOT_YET_VALID: "the TLS certificate is not valid yet",
  DEPTH_ZERO_SELF_SIGNED_CERT: "the TLS certificate is self-signed",
  SELF_SIGNED_CERT_IN_CHAIN: "the TLS certificate chain ends in an untrusted self-signed certificate",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "the TLS certificate chain is incomplete or untrusted",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "the TLS certificate was issued by an untrusted authority",
  CERT_REVOKED: "the TLS certificate has been revoked",
};

function isTlsCode(code: string): boolean {
  return code in tlsMessages || code.startsWith("ERR_TLS_") || code.startsWith("ERR_SSL_") || code.startsWith("CERT_")
    || code.startsWith("UNABLE_TO_") || code === "EPROTO" || code === "HOSTNAME_MISMATCH";
}

/** The `code` a runtime error carries (ECONNRESET, HPE_…), or "". */
export function errorCode(error: unknown): string {
  if (typeof error === "object" && error !== null && "code" in error && typeof error.code === "string") return error.code;
  return "";
}

/**
 * Classifies an error thrown or emitted while resolving, connecting, or exchanging a request.
 *
 * @example
 * classifyEgressError(Object.assign(new Error("connect ECONNREFUSED 10.0.0.1:80"), { code: "ECONNREFUSED" }), { maxHeaderBytes: 16384 });
 * // { errorClass: "connection", message: "the destination refused the connection" }
 */
export function classifyEgressError(error: unknown, context: ErrorContext): ClassifiedError {
  if (error instanceof EgressTimeoutError) {
    const what = { dns: "resolving the host name", connect: "connecting", total: "the whole request" }[error.phase];
    return { errorClass: "timeout", message: `${what} took longer than ${error.limitMs} ms` };
  }
  const code = errorCode(error);
  if (dnsCodes.has(code)) return { errorClass: "dns", message: "the host name could not be resolved" };
  if (code === "ETIMEDOUT") return { errorClass: "timeout", message: "the connection timed out" };
  if (code in connectionMessages) return { errorClass: "connection", message: connectionMessages[code] ?? "" };
  if (isTlsCode(code)) return { errorClass: "tls", message: tlsMessages[code] ?? "the TLS handshake failed" };
  if (code === "HPE_HEADER_OVERFLOW") {
    return { errorClass: "connection", message: `the response headers exceed ${context.maxHeaderBytes} bytes` };
  }
  if (code === "HPE_INCOMPLETE") return { errorClass: "connection", message: connectionMessages["ECONNRESET"] ?? "" };
  if (code.startsWith("HPE_")) return { errorClass: "connection", message: "the destination sent an invalid HTTP response" };
  if (code === "ERR_INVALID_CHAR" || code === "ERR_INVALID_HTTP_TOKEN" || code === "ERR_HTTP_INVALID_HEADER_VALUE") {
    return { errorClass: "connection", message: "the request has an invalid header and was not sent" };
  }
  return { errorClass: "connection", message: "the connection failed" };
}

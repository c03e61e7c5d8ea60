/**
 * Request ids: `X-Request-ID` is accepted when well-formed (so a caller can correlate across systems), generated
 * otherwise, echoed on every response and recorded in the ledger meta of every mutation.
 *
 * Why the header is set after `next()`: a header set before it only reaches responses built with `c.json()` and
 * friends. Errors (auth, body limit, validation, not-found, 500) answer with a `Response` built by problem.ts,
 * which Hono takes as it is, so every error went out without the id its body quoted. Setting it on the final
 * response covers every path, whoever built it.
 */
import type { MiddlewareHandler } from "hono";
import type { HttpEnv } from "./env.ts";

const wellFormed = /^[A-Za-z0-9._:-]{8,128}$/;

/** Whether an offered `X-Request-ID` is kept as is (8-128 of letters, digits, `.`, `_`, `:`, `-`). */
export const isWellFormedRequestId = (offered: string | undefined): boolean => offered !== undefined && wellFormed.test(offered);

export function requestId(): MiddlewareHandler<HttpEnv> {
  return async (c, next) => {
    const offered = c.req.header("x-request-id");
    const id = offered && wellFormed.test(offered) ? offered : `req_${crypto.randomUUID().replaceAll("-", "")}`;
    c.set("requestId", id);
    await next();
    c.header("X-Request-ID", id);
  };
}

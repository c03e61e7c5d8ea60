/**
 * Request ids: `X-Request-ID` is accepted when well-formed (so a caller can correlate across systems), generated
 * otherwise, echoed on every response and recorded in the ledger meta of every mutation.
 */
import type { MiddlewareHandler } from "hono";
import type { HttpEnv } from "./env.ts";

const wellFormed = /^[A-Za-z0-9._:-]{8,128}$/;

export function requestId(): MiddlewareHandler<HttpEnv> {
  return async (c, next) => {
    const offered = c.req.header("x-request-id");
    const id = offered && wellFormed.test(offered) ? offered : `req_${crypto.randomUUID().replaceAll("-", "")}`;
    c.set("requestId", id);
    c.header("X-Request-ID", id);
    await next();
  };
}

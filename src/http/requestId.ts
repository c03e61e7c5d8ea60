/**
 * Request ids: `X-Request-ID` is accepted when well-formed (so a caller can correlate across systems), generated
 * otherwise, echoed on every response and recorded in the ledger meta of every mutation.
 *
 * Why the header is set after `next()`: a header set before it only reaches responses built with `c.json()` and
 * friends. Errors (auth, body limit, validation, not-found, 500) answer with a `Response` built by problem.ts,
 * which Hono takes as it is, so every error went out without the id its body quoted. Setting it on the final
 * response covers every path, whoever built it.
 *
 * Why on `c.res.headers` and not with `c.header()`: after `next()` the response is final, and `c.header()` then
 * builds a new Response around the old one's body, turning a body given as text into a stream: under Bun that
 * takes ~31 ms for a dequeue or list page of 8 MB of bodies (10.7 MB of JSON), in one piece on the event loop, about
 * as long as serialising it. The headers of a Response we built are mutable, as securityHeaders relies on too.
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
    c.res.headers.set("X-Request-ID", id);
  };
}

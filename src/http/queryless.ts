/**
 * The input rules for query strings on routes that declare no query parameters: such a route answers 400 for any
 * parameter, as a list route does for an unknown one (`?x=%FF` and `?limit=1&limit=2` were answered 200 there).
 *
 * Why a middleware: a route that takes no query never calls readQuery, so nothing read its query string; the
 * documented operations say which routes take one, and this checks the rest before any handler runs.
 */
import type { MiddlewareHandler } from "hono";
import { TrieRouter } from "hono/router/trie-router";
import type { HttpEnv } from "./env.ts";
import { exactObject } from "./fields.ts";
import type { Operation } from "./openapi/operation.ts";
import { readQuery } from "./validate.ts";

const NO_PARAMETERS = exactObject({});

export function noQueryWhereNoneDeclared(operations: readonly Operation[]): MiddlewareHandler<HttpEnv> {
  let router: TrieRouter<boolean> | undefined;
  return async (c, next) => {
    const url = c.req.url;
    const start = url.indexOf("?");
    if (start >= 0 && start < url.length - 1) {
      if (!router) {
        router = new TrieRouter<boolean>();
        for (const operation of operations) router.add(operation.method, operation.path, operation.query !== undefined);
      }
      const [matches] = router.match(c.req.method, c.req.path);
      // Known routes only, and only those that declare no query: the others validate theirs with readQuery.
      if (matches.length > 0 && matches.every(([takesQuery]) => !takesQuery)) readQuery(c, NO_PARAMETERS);
    }
    await next();
  };
}

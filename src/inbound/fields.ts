/** Request-body fields specific to ingress routes and pull queues. */
import * as v from "valibot";
import type { Config } from "../config.ts";
import { boundedArray, exactObject, timestampField } from "../http/fields.ts";
import { eventTypeNameField, urlField } from "../outbound/fields.ts";
import { SECRET_REF_FORMS, SECRET_REF_PATTERN } from "../secrets/references.ts";
import { appRefFieldDescribed } from "../tenancy/applicationRefs.ts";
import { DEFAULT_TOLERANCE_SECONDS, genericVerifierConfigSchema, verifierPresetNames } from "./verifiers/presets.ts";

export const QUEUE_NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

export const queueNameField = v.pipe(v.string("expected a queue name"), v.regex(QUEUE_NAME, "1-63 characters of a-z, 0-9, _ . -, starting with a letter or digit"));

const ROUTE_PATH_SEGMENT = /^[A-Za-z0-9._~-]+$/;

/**
 * A route's custom receive path, served at `/in/{org_id}/{path}`. Only RFC 3986 unreserved characters, so the URL
 * a tenant pastes into a provider never needs percent-encoding; no `.` or `..` segment, because clients and the
 * server resolve those away before routing, so such a path could never be reached as written.
 */
export const routePathField = v.pipe(
  v.string("expected a path such as github/main"),
  v.minLength(1, "must not be empty"),
  v.maxLength(200, "at most 200 characters"),
  v.check((path) => !path.startsWith("/") && !path.endsWith("/"), "must not start or end with /"),
  v.check((path) => !path.includes("//"), "segments are separated by a single /"),
  v.check((path) => path.split("/").every((segment) => segment === "" || ROUTE_PATH_SEGMENT.test(segment)), "segments are letters, digits, . _ ~ - only"),
  v.check((path) => path.split("/").every((segment) => segment !== "." && segment !== ".."), "no . or .. segments"),
);

/** Forward auth answers within this by default; a slow auth service delays every webhook of the route. */
export const DEFAULT_FORWARD_TIMEOUT_MS = 5000;
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export function authField(config: Config) {
  const maxTimeout = config.HOOKLEDGER_EGRESS_TIMEOUT_MS;
  return v.variant(
    "type",
    [
      v.pipe(
        exactObject({
          type: v.literal("hmac"),
          preset: v.picklist(verifierPresetNames, `expected one of ${verifierPresetNames.join(", ")}`),
          tolerance_seconds: v.optional(
            v.pipe(v.number(), v.integer("expected a whole number"), v.minValue(1, "at least 1 second"), v.maxValue(86400, "at most 1 day")),
            DEFAULT_TOLERANCE_SECONDS,
          ),
          generic: v.optional(genericVerifierConfigSchema),
        }),
        v.rawCheck(({ dataset, addIssue }) => {
          if (!dataset.typed) return;
          const { preset, generic } = dataset.value;
          if ((preset === "generic") !== (generic !== undefined)) {
            addIssue({
              message: preset === "generic" ? "the generic preset needs its configuration" : "only the generic preset takes a configuration",
              path: [{ type: "object", origin: "value", input: dataset.value, key: "generic", value: generic }],
            });
          }
        }),
      ),
      exactObject({
        type: v.literal("basic"),
        username: v.pipe(v.string(), v.minLength(1, "must not be empty"), v.maxLength(200, "at most 200 characters"), v.regex(/^[^:\r\n]*$/, "must not contain ':' or line breaks")),
      }),
      exactObject({
        type: v.literal("forward"),
        url: v.pipe(urlField, v.check((url) => !/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(url), "put credentials in headers the sender sends, not in the URL")),
        timeout_ms: v.optional(
          v.pipe(v.number(), v.integer("expected a whole number"), v.minValue(100, "at least 100 ms"), v.maxValue(maxTimeout, `at most ${maxTimeout} ms (HOOKLEDGER_EGRESS_TIMEOUT_MS)`)),
          Math.min(DEFAULT_FORWARD_TIMEOUT_MS, maxTimeout),
        ),
      }),
    ],
    'expected auth.type "hmac", "basic" or "forward"',
  );
}

export const maxBodyBytesField = (config: Config) =>
  v.pipe(
    v.number(),
    v.integer("expected a whole number"),
    v.minValue(1, "at least 1 byte"),
    v.maxValue(config.HOOKLEDGER_INGRESS_MAX_BODY_BYTES, `at most ${config.HOOKLEDGER_INGRESS_MAX_BODY_BYTES} (HOOKLEDGER_INGRESS_MAX_BODY_BYTES)`),
  );

/** Where a route publishes: an application named by its id or uid (stored by its id, see ingressRoutes.ts) and one of its event types. */
export const publishField = v.pipe(
  v.nullable(
    exactObject({
      app_id: appRefFieldDescribed(
        "The application's id, or its uid. A uid is resolved to the application's id when the route is saved (create or PATCH): the route is stored, answered and recorded with the id, and keeps publishing to that application if the uid later moves to another one. A uid no live application has is a 400 naming publish.app_id.",
      ),
      event_type: v.pipe(eventTypeNameField, v.description("One of the application's event types; register it first under /v1/applications/{app_id}/event-types.")),
    }),
  ),
  v.description("Publish each accepted webhook as an event of this application and type (fanned out to its subscriptions); null: not published."),
);

export const secretIdField = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.-]{1,64}$/, "1-64 characters of letters, digits, _ . -"));

/** A secret as given: a literal `value`, a `ref` (env:NAME, file:/path, vault:path#key, raw:… in development), or neither (generated). */
export const secretBody = exactObject({
  id: v.optional(secretIdField),
  value: v.optional(v.string("expected a string")),
  ref: v.optional(v.pipe(v.string(), v.regex(SECRET_REF_PATTERN, `expected a secret reference: ${SECRET_REF_FORMS}`))),
  valid_from: v.optional(timestampField),
  valid_until: v.optional(v.nullable(timestampField)),
});

export const leaseIdsField = v.pipe(
  boundedArray(v.pipe(v.string("expected a lease id"), v.uuid("expected a lease id from dequeue"), v.toLowerCase()), 100, "at most 100 lease ids", "expected an array of lease ids"),
  v.minLength(1, "give at least one lease id"),
);

export const leaseSecondsField = v.pipe(v.number(), v.integer("expected a whole number"), v.minValue(1, "at least 1 second"), v.maxValue(43200, "at most 12 hours"));

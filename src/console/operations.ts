/** The portal's `/v1` operations for the OpenAPI document. The console's and portal's HTML pages are not API. */
import { APP_ID_IN_PATH } from "../tenancy/applicationRefs.ts";
import { operation as op, type Operation } from "../http/openapi/operation.ts";
import { portalLinkBody, portalLinkJson, portalSettingsBody, portalSettingsJson } from "./portalApi.ts";

export const consoleOperations = (): Operation[] => [
  op("POST", "/v1/applications/:app_id/portal-links", "Portal", "Mint a short-lived, single-use link that opens the portal for one application (organization token with the portal's scopes; a read-only link needs their read part only).", {
    scope: "applications:read, subscriptions:read, subscriptions:write, events:read, events:write (read_only: the read scopes)",
    body: portalLinkBody,
    bodyOptional: true,
    response: portalLinkJson,
    ...APP_ID_IN_PATH,
  }),
  op("GET", "/v1/portal-settings", "Portal", "Origins allowed to embed the organization's portal in a frame.", { scope: "admin", response: portalSettingsJson }),
  op("PATCH", "/v1/portal-settings", "Portal", "Set the origins allowed to embed the portal (CSP frame-ancestors); an empty list forbids framing.", {
    scope: "admin",
    body: portalSettingsBody,
    response: portalSettingsJson,
  }),
];

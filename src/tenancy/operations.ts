/**
 * The tenancy capability's HTTP operations for the OpenAPI document, described with the same valibot schemas
 * the handlers validate with. src/compose/operations.ts assembles every capability's list.
 */
import { operation as op, type Operation } from "../http/openapi/operation.ts";
import { listOf } from "../http/responses.ts";
import { APP_ID_IN_PATH } from "./applicationRefs.ts";
import { applicationCreateBody, applicationCreateQuery, applicationListQuery, applicationUpdateBody } from "./routes/applications.ts";
import { auditLogQuery } from "./routes/auditLog.ts";
import { listQuery as organizationListQuery, organizationCreateBody, organizationUpdateBody } from "./routes/organizations.ts";
import { tokenCreateBody, tokenListQuery } from "./routes/tokens.ts";
import { applicationJson, auditEntryJson, createdTokenJson, organizationJson, tokenJson, usageJson } from "./routes/present.ts";

export function tenancyOperations(): Operation[] {
  return [
    op("POST", "/v1/organizations", "Organizations", "Create an organization.", { scope: "instance admin", body: organizationCreateBody, response: organizationJson }),
    op("GET", "/v1/organizations", "Organizations", "List organizations (an organization token sees its own).", { query: organizationListQuery, response: listOf(organizationJson) }),
    op("GET", "/v1/organizations/:org_id", "Organizations", "Get an organization.", { response: organizationJson }),
    op("PATCH", "/v1/organizations/:org_id", "Organizations", "Update an organization.", { scope: "admin", body: organizationUpdateBody, response: organizationJson }),
    op("DELETE", "/v1/organizations/:org_id", "Organizations", "Delete an organization: its tokens are revoked, its applications deleted.", { scope: "instance admin" }),
    op("POST", "/v1/organizations/:org_id/tokens", "Tokens", "Create a token in an organization (how the instance admin issues the first one).", { scope: "admin", body: tokenCreateBody, response: createdTokenJson }),

    op("POST", "/v1/tokens", "Tokens", "Create a token; the response holds the token, shown once.", { scope: "admin", body: tokenCreateBody, response: createdTokenJson }),
    op("GET", "/v1/tokens", "Tokens", "List tokens.", { scope: "admin", query: tokenListQuery, response: listOf(tokenJson) }),
    op("GET", "/v1/tokens/:token_id", "Tokens", "Get a token (never the token itself).", { scope: "admin", response: tokenJson }),
    op("DELETE", "/v1/tokens/:token_id", "Tokens", "Revoke a token.", { scope: "admin", success: 200, response: tokenJson }),

    op("POST", "/v1/applications", "Applications", "Create an application; with `get_if_exists=true`, answer the one that already has the body's uid instead (200).", {
      scope: "applications:write",
      query: applicationCreateQuery,
      body: applicationCreateBody,
      response: applicationJson,
      problems: ["quota-exceeded", "uid-taken"],
      otherResponses: { 200: { description: "get_if_exists=true and a live application has the uid: that application, unchanged.", response: applicationJson } },
    }),
    op("GET", "/v1/applications", "Applications", "List applications.", { scope: "applications:read", query: applicationListQuery, response: listOf(applicationJson) }),
    op("GET", "/v1/applications/:app_id", "Applications", "Get an application (by id or uid).", { scope: "applications:read", response: applicationJson, ...APP_ID_IN_PATH }),
    op("PATCH", "/v1/applications/:app_id", "Applications", "Update an application (by id or uid); `uid: null` clears its uid. Only an organization token gives, moves or clears a uid (403 for an application token sending any other uid than its application has).", { scope: "applications:write", body: applicationUpdateBody, response: applicationJson, problems: ["uid-taken"], ...APP_ID_IN_PATH }),
    op("DELETE", "/v1/applications/:app_id", "Applications", "Delete an application: its tokens are revoked, its subscriptions deleted; its uid is free again.", { scope: "applications:write", ...APP_ID_IN_PATH }),

    op("GET", "/v1/audit-log", "Audit", "List the organization's audit entries, newest first; a page stops early at 2 MB of entry data (follow next_cursor).", { scope: "audit:read", query: auditLogQuery, response: listOf(auditEntryJson) }),
    op("GET", "/v1/usage", "Organizations", "Quotas of the organization and today's usage.", { scope: "applications:read", response: usageJson }),
  ];
}

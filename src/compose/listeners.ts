/**
 * Which door each request belongs to, for separate listeners (HOOKLEDGER_INGRESS_LISTEN, _PULL_LISTEN,
 * _ADMIN_LISTEN): the receive endpoint, the pull API, and the instance-admin routes with /metrics.
 */
import type { Door } from "../http/listenerSettings.ts";

/**
 * @example
 * doorOf("POST", "/in/rt_abc"); // "ingress"
 * doorOf("GET", "/v1/applications"); // "main"
 */
export function doorOf(method: string, path: string): Door {
  if (path.startsWith("/in/")) return method === "POST" ? "ingress" : "main";
  if (path.startsWith("/v1/pull/")) return "pull";
  if (path === "/metrics" || path === "/v1/organizations" || path.startsWith("/v1/organizations/")) return "admin";
  return "main";
}

/** Token scopes. `admin` grants every scope within the token's organization (or application). */
export const SCOPES = [
  "admin",
  "applications:read",
  "applications:write",
  "events:read",
  "events:write",
  "subscriptions:read",
  "subscriptions:write",
  "audit:read",
  "ingress:read",
  "ingress:write",
  "pull:consume",
] as const;

export type Scope = (typeof SCOPES)[number];

export function hasScope(granted: readonly string[], needed: Scope): boolean {
  return granted.includes("admin") || granted.includes(needed);
}

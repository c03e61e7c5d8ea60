/**
 * Which references an organization may give through the API: only under the operator's prefixes, with
 * `{org_id}` giving each organization its own corner, and only in canonical form so no spelling climbs out.
 */
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { referenceScheme } from "../../src/secrets/references.ts";
import { tenantReferenceRefusal } from "../../src/secrets/tenantReferences.ts";

const ORG = "0b6a5f5e-8d5c-4f37-9a57-3f6f1f0e2a11";
const prefixes = ["vault:secret/data/tenants/{org_id}", "file:/run/secrets/tenants/{org_id}/", "env:HOOK_SHARED_"];

describe("tenant secret references", () => {
  it("are refused on an instance that allows none, except raw: values (which follow the development-mode rule)", () => {
    expect(tenantReferenceRefusal("env:DATABASE_URL", ORG, [])).toBe("secret references are not enabled for organizations on this instance; give the value instead");
    expect(tenantReferenceRefusal("vault:secret/data/app#key", ORG, [])).toMatch(/not enabled/);
    expect(tenantReferenceRefusal("raw:inline", ORG, [])).toBeUndefined();
  });

  it("are allowed under the organization's own prefix", () => {
    for (const reference of [
      `vault:secret/data/tenants/${ORG}#key`,
      `vault:secret/data/tenants/${ORG}/github#webhook_secret`,
      `file:/run/secrets/tenants/${ORG}/github`,
      "env:HOOK_SHARED_GITHUB",
    ]) expect(tenantReferenceRefusal(reference, ORG, prefixes)).toBeUndefined();
  });

  it("are refused outside it: another organization, a sibling sharing the spelling, the service's own environment and files", () => {
    const other = "a1b2c3d4-0000-4000-8000-000000000000";
    for (const reference of [
      `vault:secret/data/tenants/${other}/github#key`,
      `vault:secret/data/tenants/${ORG}x/github#key`,
      `file:/run/secrets/tenants/${other}/github`,
      "env:DATABASE_URL",
      "env:HOOKLEDGER_ENCRYPTION_KEYS",
      "file:/etc/passwd",
      "vault:sys/raw/core#key",
    ]) expect(tenantReferenceRefusal(reference, ORG, prefixes)).toMatch(/^this reference is outside what this instance allows; it must start with vault:secret\/data\/tenants\/0b6a5f5e/);
  });

  it("are refused in any non-canonical spelling that could climb out of the prefix", () => {
    for (const reference of [
      `file:/run/secrets/tenants/${ORG}/../other/github`,
      `file:/run/secrets/tenants/${ORG}//github`,
      `file:/run/secrets/tenants/${ORG}/./github`,
      `file:/run/secrets/tenants/${ORG}/`,
      `vault:secret/data/tenants/${ORG}/../other#key`,
      `env:HOOK_SHARED_${ORG}`,
    ]) expect(tenantReferenceRefusal(reference, ORG, prefixes)).toBe("the reference is not in canonical form (no relative segments, repeated slashes or odd names)");
  });

  it("cover what lies under a prefix, never a sibling or another key that shares its spelling", () => {
    const loose = ["file:/run/t", "vault:secret/data/shared#{org_id}", "vault:secret/data/t/{org_id}"];
    expect(tenantReferenceRefusal("file:/run/t/github", ORG, loose)).toBeUndefined();
    expect(tenantReferenceRefusal("file:/run/t", ORG, loose)).toBeUndefined();
    expect(tenantReferenceRefusal(`vault:secret/data/shared#${ORG}`, ORG, loose)).toBeUndefined();
    expect(tenantReferenceRefusal(`vault:secret/data/t/${ORG}#key`, ORG, loose)).toBeUndefined();
    for (const reference of ["file:/run/t2/github", "file:/run/t#evil", `vault:secret/data/shared#${ORG}x`, `vault:secret/data/t/${ORG}x#key`]) {
      expect(tenantReferenceRefusal(reference, ORG, loose), reference).toMatch(/^this reference is outside/);
    }
    expect(referenceScheme("rawX")).toBeUndefined();
    expect(referenceScheme("envNAME")).toBeUndefined();
  });

  it("HOOKLEDGER_TENANT_SECRET_REFS accepts env:, file:/ and vault: prefixes only", () => {
    expect(loadConfig({ HOOKLEDGER_TENANT_SECRET_REFS: " vault:secret/data/tenants/{org_id}/ , env:HOOK_ " }).HOOKLEDGER_TENANT_SECRET_REFS).toEqual(["vault:secret/data/tenants/{org_id}/", "env:HOOK_"]);
    expect(loadConfig({}).HOOKLEDGER_TENANT_SECRET_REFS).toEqual([]);
    for (const bad of ["raw:", "file:relative/", "env:", "https://vault/"]) {
      expect(() => loadConfig({ HOOKLEDGER_TENANT_SECRET_REFS: bad })).toThrow(/^HOOKLEDGER_TENANT_SECRET_REFS: expected comma-separated env:, file:\/ or vault: prefixes/);
    }
    expect(() => loadConfig({ HOOKLEDGER_TENANT_SECRET_REFS: "env:TENANT_{org_id}_" })).toThrow("HOOKLEDGER_TENANT_SECRET_REFS: {org_id} fits file: and vault: prefixes, not env: names");
  });
});

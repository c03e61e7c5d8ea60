import { describe, expect, it } from "vitest";
import { checkAddress, checkUrl, defaultEgressPolicy, type EgressPolicy } from "../../src/egress/policy.ts";
import { EgressRuleError } from "../../src/egress/rules.ts";

const policy = (overrides: Partial<EgressPolicy> = {}): EgressPolicy => ({ ...defaultEgressPolicy, ...overrides });

describe("checkAddress: the default-deny table", () => {
  it.each([
    ["0.0.0.0", "default:unspecified"],
    ["0.1.2.3", "default:unspecified"],
    ["10.0.0.5", "default:private"],
    ["172.16.0.1", "default:private"],
    ["172.31.255.255", "default:private"],
    ["192.168.1.1", "default:private"],
    ["127.0.0.1", "default:loopback"],
    ["127.255.255.254", "default:loopback"],
    ["169.254.169.254", "default:link_local"],
    ["169.254.0.1", "default:link_local"],
    ["100.64.0.1", "default:cgnat"],
    ["100.127.255.255", "default:cgnat"],
    ["224.0.0.1", "default:multicast"],
    ["239.255.255.250", "default:multicast"],
    ["255.255.255.255", "default:broadcast"],
    ["240.0.0.1", "default:reserved"],
    ["192.0.0.8", "default:reserved"],
    ["192.0.2.1", "default:documentation"],
    ["198.51.100.7", "default:documentation"],
    ["203.0.113.9", "default:documentation"],
    ["198.18.0.1", "default:benchmarking"],
    ["198.19.255.255", "default:benchmarking"],
    ["192.175.48.1", "default:reserved"], // AS112, caught by ipaddr.js range() rather than the table
    ["::", "default:unspecified"],
    ["::1", "default:loopback"],
    ["[::1]", "default:loopback"],
    ["0:0:0:0:0:0:0:1", "default:loopback"],
    ["fc00::1", "default:unique_local"],
    ["fd12:3456::1", "default:unique_local"],
    ["fd00:ec2::254", "default:unique_local"],
    ["fe80::1", "default:link_local"],
    ["fec0::1", "default:site_local"],
    ["ff02::1", "default:multicast"],
    ["2001:db8::1", "default:documentation"],
    ["3fff::1", "default:documentation"],
    ["100::1", "default:reserved"],
    ["4000::1", "default:reserved"],
    ["2001:3::1", "default:reserved"],
    ["::ffff:127.0.0.1", "default:ipv4_mapped"],
    ["::ffff:7f00:1", "default:ipv4_mapped"],
    ["::ffff:169.254.169.254", "default:ipv4_mapped"],
    ["::ffff:8.8.8.8", "default:ipv4_mapped"],
    ["::127.0.0.1", "default:ipv4_compatible"],
    ["::8.8.8.8", "default:ipv4_compatible"],
    ["64:ff9b::10.0.0.5", "default:nat64"],
    ["64:ff9b::a9fe:a9fe", "default:nat64"],
    ["64:ff9b::7f00:1", "default:nat64"],
    ["64:ff9b:1::7f00:1", "default:nat64"],
    ["64:ff9b:1:a00:0:500::", "default:nat64"], // 10.0.0.5 in the RFC 6052 /48 layout
    ["2002:a00:5::1", "default:6to4"],
    ["2002:7f00:1::1", "default:6to4"],
    ["2002:a9fe:a9fe::", "default:6to4"],
    ["2001:0:4136:e378:8000:63bf:3fff:fdd2", "default:teredo"], // RFC 4380's example: client 192.0.2.45
    ["2001:0:4136:e378:8000:63bf:f5ff:fffa", "default:teredo"], // client 10.0.0.5
    ["2001:0:7f00:1:8000:63bf:a247:27dd", "default:teredo"], // server 127.0.0.1
  ])("refuses %s with %s", (address, rule) => {
    const decision = checkAddress(address, policy());
    expect(decision).toMatchObject({ ok: false, rule });
  });

  it.each([
    "93.184.216.34",
    "8.8.8.8",
    "1.1.1.1",
    "2606:4700::1111",
    "2a00:1450:4001:80b::200e",
    "64:ff9b::5db8:d822", // NAT64 of 93.184.216.34
    "64:ff9b:1::5db8:d822",
    "2002:5db8:d822::1", // 6to4 of 93.184.216.34
    "2001:0:4136:e378:8000:63bf:a247:27dd", // Teredo, public server and client
  ])("allows the public address %s (checked, never contacted)", (address) => {
    expect(checkAddress(address, policy())).toEqual({ ok: true });
  });

  it("says which range refused the address", () => {
    expect(checkAddress("10.0.0.5", policy())).toEqual({
      ok: false,
      rule: "default:private",
      detail: "10.0.0.5 is in a private range (10.0.0.0/8)",
    });
    const nat64 = checkAddress("64:ff9b::a9fe:a9fe", policy());
    expect(nat64.ok ? "" : nat64.detail).toContain("embeds 169.254.169.254");
  });

  it("refuses something that is not an address, and zone ids", () => {
    expect(checkAddress("example.com", policy())).toMatchObject({ ok: false, rule: "address" });
    expect(checkAddress("127.1", policy())).toMatchObject({ ok: false, rule: "address" });
    expect(checkAddress("fe80::1%eth0", policy())).toMatchObject({ ok: false, rule: "address" });
  });
});

describe("checkAddress: allowLoopback", () => {
  const dev = policy({ allowLoopback: true });
  it.each(["127.0.0.1", "127.8.9.10", "::1"])("permits %s", (address) => {
    expect(checkAddress(address, dev)).toEqual({ ok: true });
  });
  it.each([
    ["::ffff:127.0.0.1", "default:ipv4_mapped"],
    ["0.0.0.0", "default:unspecified"],
    ["10.0.0.5", "default:private"],
    ["169.254.169.254", "default:link_local"],
    ["64:ff9b::7f00:1", "default:nat64"],
  ])("still refuses %s", (address, rule) => {
    expect(checkAddress(address, dev)).toMatchObject({ ok: false, rule });
  });
});

describe("checkUrl: odd spellings are normalised before the check", () => {
  it.each([
    ["https://2130706433/", "default:loopback"],
    ["https://0177.0.0.1/", "default:loopback"],
    ["https://0x7f.1/", "default:loopback"],
    ["https://0x7f000001/", "default:loopback"],
    ["https://127.1/", "default:loopback"],
    ["https://127.000.000.001/", "default:loopback"],
    ["https://127.0.0.1./", "default:loopback"],
    ["https://%31%32%37.0.0.1/", "default:loopback"],
    ["https://１２７.０.０.１/", "default:loopback"], // full-width digits
    ["https://①②⑦.0.0.1/", "default:loopback"], // circled digits
    ["https://[::1]/", "default:loopback"],
    ["https://[0:0:0:0:0:0:0:1]:8443/", "default:loopback"],
    ["https://[::ffff:127.0.0.1]/", "default:ipv4_mapped"],
    ["https://[::ffff:a9fe:a9fe]/", "default:ipv4_mapped"],
    ["https://[::127.0.0.1]/", "default:ipv4_compatible"],
    ["https://[64:ff9b::a9fe:a9fe]/", "default:nat64"],
    ["https://localhost/", "default:loopback"],
    ["https://localhost./", "default:loopback"],
    ["https://LOCALHOST/", "default:loopback"],
    ["https://ＬＯＣＡＬＨＯＳＴ/", "default:loopback"],
    ["https://api.localhost/", "default:loopback"],
    ["https://0/", "default:unspecified"],
    ["https://0.0.0.0:8080/", "default:unspecified"],
    ["https://169.254.169.254/latest/meta-data/", "default:link_local"],
    ["https://0xa9.0xfe.0xa9.0xfe/", "default:link_local"],
    ["https://2852039166/", "default:link_local"],
    ["https://10.1/", "default:private"],
    ["HTTPS://10.0.0.5/", "default:private"],
    ["https:\\\\10.0.0.5\\", "default:private"],
  ])("%s → %s", (url, rule) => {
    expect(checkUrl(url, policy())).toMatchObject({ ok: false, rule });
  });

  it.each([
    ["https://user:pw@example.com/", "url"],
    ["https://127.0.0.1:8080@example.com/", "url"],
    ["https://token@example.com/", "url"],
    ["ftp://example.com/", "url"],
    ["file:///etc/passwd", "url"],
    ["gopher://example.com/", "url"],
    ["javascript:alert(1)", "url"],
    ["https://example.com:0/", "url"],
    ["https://example.com:65536/", "url"],
    ["not a url", "url"],
    ["/relative/path", "url"],
    [`https://example.com/${"a".repeat(2048)}`, "url"],
    ["https://[::1%25eth0]/", "url"],
    ["https://a..b/", "url"],
    ["https://.localhost/", "url"],
    ["https://exa_mple-.com/", "url"],
    ["http://example.com/", "https_only"],
  ])("%s → %s", (url, rule) => {
    expect(checkUrl(url, policy())).toMatchObject({ ok: false, rule });
  });

  it("returns the canonical URL: lower case, punycode, no trailing dot, default port dropped", () => {
    const result = checkUrl("HTTPS://Bücher.EXAMPLE.:443/In?x=1", policy());
    expect(result.ok && result.url.href).toBe("https://xn--bcher-kva.example/In?x=1");
  });

  it("accepts http when httpsOnly is off, and ports in range", () => {
    expect(checkUrl("http://example.com:65535/", policy({ httpsOnly: false }))).toMatchObject({ ok: true });
  });
});

describe("operator rules", () => {
  it("a *.domain deny rule matches subdomains, never the apex", () => {
    const p = policy({ deny: ["*.Internal.Example"] });
    expect(checkUrl("https://api.internal.example/", p)).toEqual({
      ok: false,
      rule: "operator:deny",
      detail: "api.internal.example matches deny rule *.Internal.Example",
    });
    expect(checkUrl("https://a.b.internal.example./", p)).toMatchObject({ ok: false, rule: "operator:deny" });
    expect(checkUrl("https://internal.example/", p)).toMatchObject({ ok: true });
    expect(checkUrl("https://notinternal.example/", p)).toMatchObject({ ok: true });
  });

  it("exact host rules match IDN targets by their punycode", () => {
    const p = policy({ deny: ["bücher.example"] });
    expect(checkUrl("https://BÜCHER.example/", p)).toMatchObject({ ok: false, rule: "operator:deny" });
    expect(checkUrl("https://www.bücher.example/", p)).toMatchObject({ ok: true });
  });

  it("deny rules match resolved addresses and host names, and beat allow rules", () => {
    const p = policy({ deny: ["93.184.216.0/24", "10.0.0.5"], allow: ["10.0.0.0/8", "93.0.0.0/8"] });
    expect(checkAddress("93.184.216.34", p)).toMatchObject({ ok: false, rule: "operator:deny" });
    expect(checkAddress("10.0.0.5", p)).toMatchObject({ ok: false, rule: "operator:deny" });
    expect(checkAddress("10.0.0.6", p)).toEqual({ ok: true });
    expect(checkAddress("93.1.2.3", p)).toEqual({ ok: true });
    const byName = checkAddress("8.8.8.8", policy({ deny: ["*.corp.example"] }), "db.corp.example");
    expect(byName).toMatchObject({ ok: false, rule: "operator:deny", detail: "db.corp.example (8.8.8.8) matches deny rule *.corp.example" });
  });

  it("a deny CIDR also catches the IPv4-mapped spelling of an address an allow rule let in", () => {
    const p = policy({ deny: ["10.9.0.0/16"], allow: ["10.0.0.0/8"] });
    expect(checkAddress("::ffff:10.9.1.1", p)).toMatchObject({ ok: false, rule: "operator:deny" });
  });

  it("a non-empty allow list restricts every target to it", () => {
    const p = policy({ allow: ["hooks.partner.example", "*.trusted.example"] });
    expect(checkUrl("https://hooks.partner.example/in", p)).toMatchObject({ ok: true });
    expect(checkUrl("https://x.trusted.example/in", p)).toMatchObject({ ok: true });
    expect(checkUrl("https://trusted.example/in", p)).toMatchObject({ ok: false, rule: "operator:allow" });
    expect(checkUrl("https://example.com/", p)).toEqual({ ok: false, rule: "operator:allow", detail: "example.com matches no allow rule" });
    expect(checkAddress("93.184.216.34", p, "example.com")).toMatchObject({ ok: false, rule: "operator:allow" });
    expect(checkAddress("93.184.216.34", p, "hooks.partner.example")).toEqual({ ok: true });
  });

  it("an allow CIDR lifts the default denial; an allowed name does not", () => {
    const cidr = policy({ allow: ["10.0.0.0/8"] });
    expect(checkAddress("10.0.0.5", cidr)).toEqual({ ok: true });
    expect(checkUrl("https://10.20.30.40/", cidr)).toMatchObject({ ok: true });
    expect(checkAddress("192.168.1.1", cidr)).toMatchObject({ ok: false, rule: "operator:allow" });
    expect(checkAddress("93.184.216.34", cidr)).toMatchObject({ ok: false, rule: "operator:allow" });
    // With a CIDR allow rule, a name can only be judged once resolved.
    expect(checkUrl("https://anything.example/", cidr)).toMatchObject({ ok: true });

    const name = policy({ allow: ["hooks.partner.example"] });
    expect(checkAddress("10.0.0.5", name, "hooks.partner.example")).toMatchObject({ ok: false, rule: "default:private" });
  });

  it("refuses to run with a rule it cannot parse", () => {
    expect(() => checkUrl("https://example.com/", policy({ deny: ["10.0.0.0/33"] }))).toThrow(EgressRuleError);
    expect(() => checkAddress("8.8.8.8", policy({ allow: ["not a host"] }))).toThrow(EgressRuleError);
  });
});

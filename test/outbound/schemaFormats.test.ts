/**
 * The linear-time formats answer like ajv-formats' own on ordinary values: moving a format to RE2 (or rewriting
 * `url` without lookaheads) must not change what a tenant's schema accepts.
 */
import { fullFormats } from "ajv-formats/dist/formats.js";
import { describe, expect, it } from "vitest";
import { linearTimeFormats } from "../../src/outbound/schemaFormats.ts";

type Check = (value: string) => boolean;
const asCheck = (format: unknown): Check => {
  if (format instanceof RegExp) return (value) => format.test(value);
  if (typeof format === "function") return format as Check;
  if (typeof format === "object" && format !== null && "validate" in format) return asCheck(format.validate);
  throw new Error("not a string format");
};

const corpus = [
  "", "a", "https://example.com", "http://example.com:8080/a/b?c=d#e", "ftp://user:pass@example.com/file", "https://user@example.com",
  "http://10.0.0.1/", "http://10.1.1.12", "http://127.0.0.1:3000", "http://192.168.1.1", "http://172.16.0.1", "http://172.32.0.1",
  "http://169.254.169.254/latest", "http://8.8.8.8", "http://223.255.255.254", "http://10.1.1.1.example.com", "http://exa mple.com",
  "http://例え.テスト", "http://xn--r8jz45g.xn--zckzah", "http://localhost", "mailto:a@example.com", "urn:isbn:0451450523",
  "http://[::1]:80/", "http://[2001:db8::7]/c=GB?objectClass?one", "//example.com/a", "/relative/path", "relative", "#fragment",
  "http://a:b:c", 'http://ex"ample.com', "http://%zz", "http://%41", "x:", "1http://bad", "https://example.com/{id}",
  "https://example.com/{+path}/here", "{a,b}", "{", "}", "8d1b6c4e-4f6a-4b8e-9c1d-2e3f4a5b6c7d", "8D1B6C4E-4F6A-4B8E-9C1D-2E3F4A5B6C7D",
  "urn:uuid:8d1b6c4e-4f6a-4b8e-9c1d-2e3f4a5b6c7d", "a@example.com", "first.last+tag@sub.example.co.uk", "a@b", "@example.com",
  "a@-example.com", "127.0.0.1", "256.0.0.1", "1.2.3", "::1", "2001:db8::1", "2001:db8:::1", "fe80::1%eth0", "::ffff:192.168.1.1",
  "/a/b~0c~1d", "/a/~2", "#/a/b", "#/a%20b", "0/a", "1#", "P1Y2M3DT4H5M6S", "PT1H", "P1W", "P", "example.com", "-example.com",
  "a".repeat(64), "QUJD", "QUJD=", "QUI=", "2026-01-31", "2026-02-30", "12:00:00Z", "2026-01-31T12:00:00+01:00", "^[a-z]+$", "(",
];

describe("linear-time formats", () => {
  it("cover every format ajv-formats defines", () => {
    expect(Object.keys(linearTimeFormats).sort()).toEqual(Object.keys(fullFormats).sort());
  });

  it("answer like ajv-formats on a corpus of ordinary values", () => {
    const differences: string[] = [];
    for (const [name, format] of Object.entries(fullFormats)) {
      if (typeof format === "boolean" || (typeof format === "object" && "type" in format && format.type === "number")) continue;
      const theirs = asCheck(format);
      const ours = asCheck(linearTimeFormats[name]);
      for (const value of corpus) if (theirs(value) !== ours(value)) differences.push(`${name} ${JSON.stringify(value)}: ajv-formats ${theirs(value)}, ours ${ours(value)}`);
    }
    expect(differences).toEqual([]);
  });
});

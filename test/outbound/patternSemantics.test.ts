/**
 * Tenant patterns mean what JSON Schema says they mean (ECMAScript regular expressions), although they run on RE2:
 * `\s`, `\S` and `.` are ECMAScript's, whose white space and line terminators are wider than RE2's ASCII ones.
 */
import { describe, expect, it } from "vitest";
import { payloadViolations } from "../../src/outbound/payloadSchema.ts";

const matches = (pattern: string, value: string) => payloadViolations({ type: "string", pattern }, value).length === 0;
const native = (pattern: string, value: string) => new RegExp(pattern, "u").test(value);

const SPACES = ["\t", "\n", "\v", "\f", "\r", " ", "\u00a0", "\u1680", "\u2000", "\u200a", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\ufeff"];
const NOT_SPACES = ["a", "0", "_", "\u200b", "\u0085", "é", "😀"];

describe("pattern semantics", () => {
  it("\\s, \\S and . match what ECMAScript's do, for every white space and line terminator", () => {
    const patterns = ["^\\s$", "^\\S$", "^.$", "^a\\sb$", "^[\\s]$", "^[^\\s]$", "^[x\\s]+$", "^\\S+$", "^.+$"];
    for (const pattern of patterns) {
      for (const value of [...SPACES, ...NOT_SPACES, ...SPACES.map((space) => `a${space}b`), "a b", "ab"]) {
        expect({ pattern, value, matches: matches(pattern, value) }).toEqual({ pattern, value, matches: native(pattern, value) });
      }
    }
  });

  it("leaves escaped dots, classes with dots and other escapes as they were", () => {
    const cases: [string, string][] = [
      ["^a\\.b$", "a.b"], ["^a\\.b$", "axb"], ["^[.]$", "."], ["^[.]$", "x"], ["^\\d{2}\\.\\d$", "12.5"],
      ["^\\u00e9t\\u00e9$", "été"], ["^(?<y>\\d{4})$", "2026"], ["^[\\]s]+$", "]s"], ["^\\\\s$", "\\s"], ["^[a-z\\-.]+$", "a-.z"],
    ];
    for (const [pattern, value] of cases) expect({ pattern, value, matches: matches(pattern, value) }).toEqual({ pattern, value, matches: native(pattern, value) });
  });
});

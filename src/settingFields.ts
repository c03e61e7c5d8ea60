/**
 * Schemas for settings read from environment strings, shared by src/config.ts and capability settings
 * (egress/settings.ts), so every setting reports a bad value the same way.
 */
import * as v from "valibot";

const rangeMessage = (min: number, max: number) => `expected a whole number between ${min} and ${max}`;

/** A whole number in [min, max], from an environment string, with a default. */
export const wholeNumberSetting = (min: number, max: number, fallback: number) =>
  v.pipe(
    v.optional(v.string(), String(fallback)),
    v.trim(),
    v.regex(/^\d+$/, rangeMessage(min, max)),
    v.transform(Number),
    v.number(),
    v.minValue(min, rangeMessage(min, max)),
    v.maxValue(max, rangeMessage(min, max)),
  );

/** true/false (also 1/0, yes/no, on/off), with a default. */
export const flagSetting = (fallback: boolean) =>
  v.pipe(
    v.optional(v.string(), fallback ? "true" : "false"),
    v.trim(),
    v.toLowerCase(),
    v.picklist(["true", "false", "1", "0", "yes", "no", "on", "off"], "expected true or false"),
    v.transform((raw) => ["true", "1", "yes", "on"].includes(raw)),
  );

/**
 * How many proxies in front of the service to believe: `false` (none), `true` (one), or their number (0–10). The
 * client's address is the entry the front-most of them appended to X-Forwarded-For (http/forwarded.ts).
 */
export const proxyHopsSetting = () =>
  v.pipe(
    v.optional(v.string(), "false"),
    v.trim(),
    v.toLowerCase(),
    v.regex(/^(true|false|1|0|yes|no|on|off|[0-9]|10)$/, "expected true, false or the number of proxies in front (0-10)"),
    v.transform((raw) => (["true", "yes", "on"].includes(raw) ? 1 : ["false", "no", "off"].includes(raw) ? 0 : Number(raw))),
  );

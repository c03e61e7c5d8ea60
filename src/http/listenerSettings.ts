/**
 * The listener settings: where the optional ingress, pull and admin doors listen, and TLS for every listener
 * (the main one included). Spread into the app's config schema like egress/settings.ts, so a bad value is reported
 * the same way; combinations that do not fit together are checked by `listenerSettingsProblem` once every setting
 * parsed, and PEM files are read at start-up (listeners.ts).
 */
import * as v from "valibot";
import { SECRET_REF_PATTERN } from "../secrets/references.ts";

export const CLIENT_AUTH_MODES = ["none", "request", "require", "verify_if_given", "require_and_verify"] as const;
export type ClientAuthMode = (typeof CLIENT_AUTH_MODES)[number];

export interface ListenAddress {
  hostname: string;
  port: number;
}

const LISTEN = /^(?:(\[[0-9A-Fa-f:.]+\]|[0-9A-Za-z.-]+)?:)?(\d{1,5})$/;

/**
 * `host:port`, `[v6]:port`, `:port` or a bare port. Without a host the listener binds 127.0.0.1: a door is opened
 * to other machines only by naming the interface.
 */
const listenSetting = v.optional(
  v.pipe(
    v.string(),
    v.trim(),
    v.regex(LISTEN, "expected host:port, [ipv6]:port or a port (a bare port binds 127.0.0.1)"),
    v.transform((raw): ListenAddress => {
      const [, host, port] = LISTEN.exec(raw) ?? [];
      return { hostname: host ? host.replace(/^\[|\]$/g, "") : "127.0.0.1", port: Number(port) };
    }),
    v.check((address) => address.port <= 65535, "the port must be between 0 and 65535"),
  ),
);

/** A PEM source: a secret reference (env:, file:, vault:, raw: in development) or a file path. */
const pemSetting = v.optional(
  v.pipe(
    v.string(),
    v.trim(),
    v.minLength(1, "expected a file path or a secret reference"),
    v.transform((raw) => (SECRET_REF_PATTERN.test(raw) ? raw : `file:${raw}`)),
  ),
);

const clientAuthSetting = v.optional(
  v.pipe(v.string(), v.trim(), v.toLowerCase(), v.picklist(CLIENT_AUTH_MODES, `expected one of ${CLIENT_AUTH_MODES.join(", ")}`)),
);

export const listenerSettings = {
  HOOKLEDGER_INGRESS_LISTEN: listenSetting,
  HOOKLEDGER_PULL_LISTEN: listenSetting,
  HOOKLEDGER_ADMIN_LISTEN: listenSetting,
  HOOKLEDGER_TLS_CERT: pemSetting,
  HOOKLEDGER_TLS_KEY: pemSetting,
  HOOKLEDGER_TLS_CLIENT_CA: pemSetting,
  HOOKLEDGER_TLS_CLIENT_AUTH: clientAuthSetting,
  HOOKLEDGER_INGRESS_TLS_CERT: pemSetting,
  HOOKLEDGER_INGRESS_TLS_KEY: pemSetting,
  HOOKLEDGER_INGRESS_TLS_CLIENT_CA: pemSetting,
  HOOKLEDGER_INGRESS_TLS_CLIENT_AUTH: clientAuthSetting,
  HOOKLEDGER_PULL_TLS_CERT: pemSetting,
  HOOKLEDGER_PULL_TLS_KEY: pemSetting,
  HOOKLEDGER_PULL_TLS_CLIENT_CA: pemSetting,
  HOOKLEDGER_PULL_TLS_CLIENT_AUTH: clientAuthSetting,
  HOOKLEDGER_ADMIN_TLS_CERT: pemSetting,
  HOOKLEDGER_ADMIN_TLS_KEY: pemSetting,
  HOOKLEDGER_ADMIN_TLS_CLIENT_CA: pemSetting,
  HOOKLEDGER_ADMIN_TLS_CLIENT_AUTH: clientAuthSetting,
};

type ListenerSettings = v.InferOutput<v.ObjectSchema<typeof listenerSettings, undefined>>;

/** The doors that can have a listener of their own, besides the main one. */
export const SEPARATE_DOORS = ["ingress", "pull", "admin"] as const;
export type Door = "main" | (typeof SEPARATE_DOORS)[number];

/** How one listener's TLS is configured: secret references to PEM text, and the client-auth mode. */
export interface ListenerTlsSettings {
  cert: string;
  key: string;
  clientCa?: string | undefined;
  clientAuth: ClientAuthMode;
}

export interface ListenerPlan {
  door: Door;
  address: ListenAddress;
  /** Setting names, for messages: `HOOKLEDGER_INGRESS_TLS_` … */
  tlsPrefix: string;
  tls?: ListenerTlsSettings | undefined;
}

const tlsPrefixOf = (door: Door) => (door === "main" ? "HOOKLEDGER_TLS_" : `HOOKLEDGER_${door.toUpperCase()}_TLS_`);
const listenSettingOf = (door: Door) => (door === "main" ? "HOOKLEDGER_HOST/PORT" : `HOOKLEDGER_${door.toUpperCase()}_LISTEN`);

type TlsKey = `${"HOOKLEDGER_" | "HOOKLEDGER_INGRESS_" | "HOOKLEDGER_PULL_" | "HOOKLEDGER_ADMIN_"}TLS_${"CERT" | "KEY" | "CLIENT_CA" | "CLIENT_AUTH"}`;

/** One listener's TLS settings, or a one-line problem naming the setting. */
function tlsOf(settings: ListenerSettings, door: Door): ListenerTlsSettings | undefined | string {
  const prefix = tlsPrefixOf(door);
  const read = (name: "CERT" | "KEY" | "CLIENT_CA" | "CLIENT_AUTH") => settings[`${prefix}${name}` as TlsKey];
  const cert = read("CERT");
  const key = read("KEY");
  const clientCa = read("CLIENT_CA");
  const clientAuth = read("CLIENT_AUTH") as ClientAuthMode | undefined;
  if (key !== undefined && cert === undefined) return `${prefix}KEY: a key without a certificate; set ${prefix}CERT too`;
  if (cert !== undefined && key === undefined) return `${prefix}CERT: a certificate without its key; set ${prefix}KEY too`;
  if (cert === undefined || key === undefined) {
    if (clientCa !== undefined) return `${prefix}CLIENT_CA: mutual TLS needs TLS; set ${prefix}CERT and ${prefix}KEY`;
    if (clientAuth !== undefined) return `${prefix}CLIENT_AUTH: a client-auth mode needs TLS; set ${prefix}CERT and ${prefix}KEY`;
    return undefined;
  }
  if (clientAuth !== undefined && clientAuth !== "none" && clientCa === undefined) {
    return `${prefix}CLIENT_AUTH: mode ${clientAuth} needs a client CA; set ${prefix}CLIENT_CA`;
  }
  return { cert, key, clientCa, clientAuth: clientAuth ?? (clientCa === undefined ? "none" : "require_and_verify") };
}

const sameAddress = (a: ListenAddress, b: ListenAddress) => a.port !== 0 && a.port === b.port && (a.hostname === b.hostname || [a.hostname, b.hostname].some((host) => host === "0.0.0.0" || host === "::"));

/**
 * Every listener to open, main first, or the one-line problem that stops start-up (a key without a certificate, a
 * client-auth mode without a client CA, two listeners on one address…).
 *
 * @example
 * listenerPlans({ ...config, HOOKLEDGER_ADMIN_LISTEN: { hostname: "127.0.0.1", port: 9090 } }); // [{ door: "main", … }, { door: "admin", … }]
 */
export function listenerPlans(settings: ListenerSettings & { HOOKLEDGER_HOST: string; PORT: number }): ListenerPlan[] | string {
  const plans: ListenerPlan[] = [];
  const doors: { door: Door; address: ListenAddress | undefined }[] = [
    { door: "main", address: { hostname: settings.HOOKLEDGER_HOST, port: settings.PORT } },
    ...SEPARATE_DOORS.map((door) => ({ door, address: settings[`HOOKLEDGER_${door.toUpperCase()}_LISTEN` as "HOOKLEDGER_INGRESS_LISTEN"] })),
  ];
  for (const { door, address } of doors) {
    const tls = tlsOf(settings, door);
    if (typeof tls === "string") return tls;
    if (address === undefined) {
      if (tls !== undefined) return `${tlsPrefixOf(door)}CERT: TLS for a listener that is not configured; set ${listenSettingOf(door)}`;
      continue;
    }
    const taken = plans.find((plan) => sameAddress(plan.address, address));
    if (taken) return `${listenSettingOf(door)}: ${address.hostname}:${address.port} is already the address of ${listenSettingOf(taken.door)}`;
    plans.push({ door, address, tlsPrefix: tlsPrefixOf(door), tls });
  }
  return plans;
}

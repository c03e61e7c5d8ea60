/**
 * Opening the listeners of listenerSettings.ts: their PEM material is read through secret references and checked
 * before any listener opens, so a wrong file stops start-up with one line naming the setting, not a TLS error at
 * the first connection.
 */
import { resolveSetting, type SecretResolver } from "../secrets/references.ts";
import type { Door, ListenerPlan } from "./listenerSettings.ts";
import { serve, type FetchHandler, type HttpServer, type TlsServeOptions } from "./serve/index.ts";
import { tlsMaterialProblem } from "./serve/tls.ts";

const CERTIFICATE = /-----BEGIN CERTIFICATE-----/;
const PRIVATE_KEY = /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/;

async function readPem(resolve: SecretResolver, setting: string, reference: string, expected: RegExp, what: string): Promise<string> {
  const pem = await resolveSetting(resolve, setting, reference);
  if (!expected.test(pem)) throw new Error(`${setting}: ${reference} does not hold a PEM ${what}`);
  return pem;
}

/**
 * A listener's certificate, key and client CA as PEM text, checked to fit together.
 *
 * @example
 * const tls = await loadListenerTls(plan, resolve); // { cert: "-----BEGIN CERTIFICATE-----…", key: "…", clientAuth: "none" }
 */
export async function loadListenerTls(plan: ListenerPlan, resolve: SecretResolver): Promise<TlsServeOptions | undefined> {
  const settings = plan.tls;
  if (!settings) return undefined;
  const prefix = plan.tlsPrefix;
  const cert = await readPem(resolve, `${prefix}CERT`, settings.cert, CERTIFICATE, "certificate");
  const key = await readPem(resolve, `${prefix}KEY`, settings.key, PRIVATE_KEY, "private key");
  const ca = settings.clientCa === undefined ? undefined : await readPem(resolve, `${prefix}CLIENT_CA`, settings.clientCa, CERTIFICATE, "CA certificate");
  const problem = tlsMaterialProblem({ cert, key, ca });
  if (problem?.part === "key") throw new Error(`${prefix}KEY: the key does not fit the certificate of ${prefix}CERT, or one of them cannot be parsed (${problem.reason})`);
  if (problem?.part === "ca") throw new Error(`${prefix}CLIENT_CA: the CA certificates cannot be parsed (${problem.reason})`);
  return { cert, key, ca, clientAuth: settings.clientAuth };
}

export interface OpenListener {
  door: Door;
  /** `https://0.0.0.0:9443`: what the start-up line shows. */
  url: string;
  clientAuth?: TlsServeOptions["clientAuth"] | undefined;
  server: HttpServer;
}

const hostInUrl = (hostname: string) => (hostname.includes(":") ? `[${hostname}]` : hostname);

/**
 * Opens one listener per plan, in order; when one cannot open, the ones already open are closed again.
 *
 * @example
 * const open = await openListeners(plans, tlsByDoor, (door) => app.fetch);
 */
export async function openListeners(
  plans: readonly ListenerPlan[],
  tlsByDoor: ReadonlyMap<Door, TlsServeOptions>,
  fetchFor: (door: Door) => FetchHandler,
): Promise<OpenListener[]> {
  const opened: OpenListener[] = [];
  try {
    for (const plan of plans) {
      const tls = tlsByDoor.get(plan.door);
      const server = await serve({ hostname: plan.address.hostname, port: plan.address.port, fetch: fetchFor(plan.door), tls });
      opened.push({
        door: plan.door,
        url: `${tls ? "https" : "http"}://${hostInUrl(plan.address.hostname)}:${server.port}`,
        clientAuth: tls?.clientAuth,
        server,
      });
    }
  } catch (error) {
    await Promise.all(opened.map((listener) => listener.server.close().catch(() => undefined)));
    throw error;
  }
  return opened;
}

/**
 * The start-up line's part for the listeners.
 *
 * @example
 * describeListeners(open); // "API on http://127.0.0.1:8080, ingress on https://0.0.0.0:9443 (client certificates: require_and_verify)"
 */
export function describeListeners(listeners: readonly OpenListener[]): string {
  return listeners
    .map((listener) => {
      const name = listener.door === "main" ? "API" : listener.door;
      const clientAuth = listener.clientAuth && listener.clientAuth !== "none" ? ` (client certificates: ${listener.clientAuth})` : "";
      return `${name} on ${listener.url}${clientAuth}`;
    })
    .join(", ");
}

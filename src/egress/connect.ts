/**
 * Opens a connection to one of the addresses the policy checked, never to anything a resolver says later.
 *
 * The socket is made with the checked address as its host, so no lookup happens; for HTTPS the URL's name is
 * still the TLS server name (SNI, RFC 6066 §3: names only, never addresses) and the name the certificate must be
 * valid for, checked explicitly with `tls.checkServerIdentity` so both runtimes verify the same thing. Addresses
 * are tried in order until one connects; the whole connect phase (TCP and TLS handshakes) is bounded by
 * `connectTimeoutMs` and by the exchange's deadline.
 */
import net, { type Socket } from "node:net";
import tls from "node:tls";
import { EgressTimeoutError } from "./errors.ts";
import { parseIPAddress } from "./normalise.ts";
import type { PinnedDestination } from "./pool.ts";
import type { ResolvedAddress } from "./resolver.ts";

const ignore = (): void => undefined;

function openOne(target: PinnedDestination, address: ResolvedAddress): Socket {
  if (!target.secure) return net.connect({ host: address.address, port: target.port, family: address.family, noDelay: true });
  const literal = parseIPAddress(target.hostname) !== undefined;
  return tls.connect({
    host: address.address,
    port: target.port,
    family: address.family,
    noDelay: true,
    ...(literal ? {} : { servername: target.hostname }),
    ALPNProtocols: ["http/1.1"],
    checkServerIdentity: (_host: string, certificate: tls.PeerCertificate) => tls.checkServerIdentity(target.hostname, certificate),
    ...(target.trustedCertificates ? { ca: [...target.trustedCertificates] } : {}),
    ...(target.clientCertificate ? { cert: target.clientCertificate.cert, key: target.clientCertificate.key } : {}),
  });
}

/**
 * @example
 * const socket = await connectPinned({ secure: false, hostname: "hooks.test", port: 8080,
 *   addresses: [{ address: "127.0.0.1", family: 4 }] }, 1000, performance.now() + 5000);
 * @throws EgressTimeoutError("connect") past connectTimeoutMs, or the last address's connection error.
 */
export function connectPinned(target: PinnedDestination, connectTimeoutMs: number, deadline: number): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    let settled = false;
    let current: Socket | undefined;
    const timer = setTimeout(() => {
      settled = true;
      current?.destroy();
      reject(new EgressTimeoutError("connect", connectTimeoutMs));
    }, Math.max(0, Math.min(connectTimeoutMs, deadline - performance.now())));

    const tryAddress = (index: number, lastError: unknown): void => {
      const address = target.addresses[index];
      if (settled) return;
      if (address === undefined) {
        settled = true;
        clearTimeout(timer);
        reject(lastError);
        return;
      }
      const socket = openOne(target, address);
      current = socket;
      socket.once(target.secure ? "secureConnect" : "connect", () => {
        socket.removeListener("error", onError);
        // From here on the exchange, or the pool while it idles, listens for errors; this keeps one that lands
        // between them (a reset just as the socket changes hands) from being an uncaught exception.
        socket.on("error", ignore);
        if (settled) {
          socket.destroy();
          return;
        }
        settled = true;
        clearTimeout(timer);
        resolve(socket);
      });
      const onError = (error: unknown): void => {
        socket.destroy();
        tryAddress(index + 1, error);
      };
      socket.once("error", onError);
    };
    tryAddress(0, new Error("no address to connect to"));
  });
}

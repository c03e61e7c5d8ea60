/**
 * The one HTTP client for every outbound request: policy check, single resolution, address check, pinned
 * connection, limits. Nothing else in `src/` may open an outbound connection (test/egress/lint.test.ts).
 */
import { BoundedMemo } from "../collections/boundedMemo.ts";
import { classifyEgressError, EgressTimeoutError, type EgressErrorClass } from "./errors.ts";
import { parseIPAddress } from "./normalise.ts";
import { checkAddress, checkUrl, type EgressPolicy, type PolicyDecision } from "./policy.ts";
import { createConnectionPool, type ConnectionPool } from "./pool.ts";
import { MAX_REDIRECTS, nextHop, type HopRequest } from "./redirects.ts";
import { preferIPv4, resolveUrlHost, systemResolver, type ResolvedAddress, type Resolver } from "./resolver.ts";
import { compileOperatorRules } from "./rules.ts";
import { exchangePinned } from "./transport.ts";

export type { Resolver, ResolvedAddress } from "./resolver.ts";
export type { EgressErrorClass } from "./errors.ts";

export interface EgressRequest {
  url: string;
  /** Default POST: this client exists to deliver webhooks. */
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Shortens the policy's total timeout for this request; it can never lengthen it. */
  timeoutMs?: number;
  /**
   * The organization the request is made for ("instance" for the instance's own): kept-alive connections to a
   * destination are shared fairly between owners (pool.ts), so one organization's hanging receiver cannot take
   * every connection to a host other organizations deliver to as well.
   */
  owner: string;
}

export interface EgressResponse {
  ok: true;
  status: number;
  headers: Record<string, string>;
  bodyExcerpt: string;
  bodyTruncated: boolean;
  durationMs: number;
  remoteAddress: string;
}

export interface EgressFailure {
  ok: false;
  errorClass: EgressErrorClass;
  /** Safe to show the tenant: names no resolved address and no internal detail. */
  message: string;
  /** The policy rule that refused the destination, when `errorClass` is "blocked". */
  rule?: string;
  durationMs: number;
}

export type EgressResult = EgressResponse | EgressFailure;

export interface EgressClient {
  send(request: EgressRequest): Promise<EgressResult>;
  /** Static check, resolution and address check without sending anything: for validating a new subscription. */
  checkDestination(url: string): Promise<PolicyDecision>;
  /**
   * Closes the kept-alive connections, for shutdown: idle ones at once, those carrying a request when it ends
   * (within its timeout); resolves when none is left. Later sends still work, each on a connection of its own
   * closed after it, so a request that races shutdown is not failed for it.
   */
  close(): Promise<void>;
}

export interface EgressClientOptions {
  resolver?: Resolver;
  /** PEM root certificates that replace the system store, for destinations behind a private CA (and tests). */
  trustedCertificates?: string[];
}

/** Distinct URLs, and host name and address pairs, whose policy checks a client remembers. */
const CHECKS_REMEMBERED = 4_096;

type Admission = { ok: true; url: URL; addresses: ResolvedAddress[] } | { ok: false; failure: Omit<EgressFailure, "durationMs">; detail: string };

function blockedMessage(rule: string, detail: string, redirected: boolean): string {
  const prefix = redirected ? "a redirect was refused: " : "";
  if (rule === "url") return `${prefix}the URL is not valid: ${detail}`;
  if (rule === "https_only") return `${prefix}only https destinations are allowed`;
  if (rule === "operator:deny") return `${prefix}the destination is blocked by the operator's egress rules`;
  if (rule === "operator:allow") return `${prefix}the destination is not on the operator's egress allow list`;
  if (rule === "address") return `${prefix}the host name resolved to an invalid address`;
  return `${prefix}the destination address is not allowed (${rule})`;
}

function blocked(rule: string, detail: string, redirected: boolean): Admission {
  return { ok: false, detail, failure: { ok: false, errorClass: "blocked", rule, message: blockedMessage(rule, detail, redirected) } };
}

/**
 * Creates the egress client for one policy. The policy's rules are parsed up front, so a bad rule fails at
 * start-up rather than on the first delivery. Connections are kept alive per pinned destination (pool.ts) within
 * `policy.connectionPool`; `close()` releases them at shutdown.
 *
 * @example
 * const egress = createEgressClient(policy);
 * const result = await egress.send({ url: "https://hooks.example.com/in", body: JSON.stringify(event),
 *   headers: { "content-type": "application/json" }, owner: orgId });
 * if (!result.ok && result.errorClass === "blocked") log.warn(`refused by ${result.rule}`);
 * @throws EgressRuleError when an allow or deny rule cannot be parsed.
 */
export function createEgressClient(policy: EgressPolicy, options: EgressClientOptions = {}): EgressClient {
  compileOperatorRules(policy.allow);
  compileOperatorRules(policy.deny);
  const resolver = options.resolver ?? systemResolver;
  const errorContext = { maxHeaderBytes: policy.maxHeaderBytes };
  let pool: ConnectionPool | undefined = policy.connectionPool.idleTimeoutMs > 0 ? createConnectionPool(policy.connectionPool) : undefined;
  // The checks are pure functions of their input and this client's policy, and a worker makes the same few for
  // every delivery (parsing and range matching were ~8% of its CPU in the delivery backlog). Resolution is not
  // remembered here: every request still resolves, and every address it gets is checked (from memory or anew).
  const urlChecks = new BoundedMemo<{ statics: ReturnType<typeof checkUrl>; literal: boolean }>(CHECKS_REMEMBERED);
  const addressChecks = new BoundedMemo<{ decision: PolicyDecision; checked: ResolvedAddress | undefined }>(CHECKS_REMEMBERED);
  const checkAnswer = (address: string, hostname: string | undefined) =>
    addressChecks.get(`${hostname ?? ""} ${address}`, () => {
      const parsed = parseIPAddress(address);
      return {
        decision: checkAddress(address, policy, hostname),
        checked: parsed ? { address: parsed.toString(), family: parsed.kind() === "ipv4" ? 4 : 6 } : undefined,
      };
    });

  /** Everything before the socket: the only place addresses come from, so every one of them is checked. */
  async function admit(rawUrl: string, deadline: number, limitMs: number, redirected: boolean): Promise<Admission> {
    // The URL object is shared by the requests that check the same URL: nothing downstream modifies it.
    const { statics, literal } = urlChecks.get(rawUrl, () => {
      const checked = checkUrl(rawUrl, policy);
      return { statics: checked, literal: checked.ok && parseIPAddress(checked.url.hostname) !== undefined };
    });
    if (!statics.ok) return blocked(statics.rule, statics.detail, redirected);
    const url = statics.url;
    let answers: ResolvedAddress[];
    try {
      answers = await resolveUrlHost(url, resolver, deadline, limitMs);
    } catch (error) {
      // Whatever a resolver throws (ENOTFOUND, SERVFAIL, a bug in an injected one) is a DNS failure, except our timer.
      const failure: Omit<EgressFailure, "durationMs"> = error instanceof EgressTimeoutError
        ? { ok: false, ...classifyEgressError(error, errorContext) }
        : { ok: false, errorClass: "dns", message: "the host name could not be resolved" };
      return { ok: false, detail: failure.message, failure };
    }
    if (answers.length === 0) {
      return { ok: false, detail: "no addresses", failure: { ok: false, errorClass: "dns", message: "the host name has no addresses" } };
    }
    const checked: ResolvedAddress[] = [];
    for (const answer of answers) {
      const { decision, checked: address } = checkAnswer(answer.address, literal ? undefined : url.hostname);
      if (!decision.ok) return blocked(decision.rule, decision.detail, redirected);
      if (address) checked.push(address);
    }
    return { ok: true, url, addresses: preferIPv4(checked) };
  }

  async function send(request: EgressRequest): Promise<EgressResult> {
    const started = performance.now();
    const limitMs = Math.min(request.timeoutMs ?? policy.timeoutMs, policy.timeoutMs);
    const deadline = started + limitMs;
    const elapsed = (): number => Math.round(performance.now() - started);
    const body = typeof request.body === "string" ? new TextEncoder().encode(request.body) : request.body;
    let hop: HopRequest = { url: request.url, method: (request.method ?? "POST").toUpperCase(), headers: request.headers ?? {}, body };

    for (let redirects = 0; ; redirects += 1) {
      const admission = await admit(hop.url, deadline, limitMs, redirects > 0);
      if (!admission.ok) return { ...admission.failure, durationMs: elapsed() };
      const outcome = await exchangePinned({
        url: admission.url,
        addresses: admission.addresses,
        method: hop.method,
        headers: hop.headers,
        body: hop.body,
        connectTimeoutMs: policy.connectTimeoutMs,
        deadline,
        totalTimeoutMs: limitMs,
        maxResponseBytes: policy.maxResponseBytes,
        maxHeaderBytes: policy.maxHeaderBytes,
        trustedCertificates: options.trustedCertificates,
        pool: pool ? { connections: pool, owner: request.owner } : undefined,
      });
      if (!outcome.ok) return { ok: false, ...classifyEgressError(outcome.error, errorContext), durationMs: elapsed() };
      const following = policy.followRedirects && redirects < MAX_REDIRECTS
        ? nextHop(hop, admission.url, outcome.status, outcome.headers["location"])
        : undefined;
      if (!following) return { ...outcome, durationMs: elapsed() };
      hop = following;
    }
  }

  async function checkDestination(url: string): Promise<PolicyDecision> {
    const admission = await admit(url, performance.now() + policy.timeoutMs, policy.timeoutMs, false);
    if (admission.ok) return { ok: true };
    const { failure } = admission;
    if (failure.errorClass === "blocked") return { ok: false, rule: failure.rule ?? "blocked", detail: admission.detail };
    return { ok: false, rule: failure.errorClass, detail: failure.message };
  }

  async function close(): Promise<void> {
    const closing = pool;
    pool = undefined;
    await closing?.close();
  }

  return { send, checkDestination, close };
}

/** Who is calling: the authenticated token, as handlers see it. */
import type { TokenKind } from "./tokenSecrets.ts";

export interface Principal {
  orgId: string;
  tokenId: string;
  kind: TokenKind;
  /** Set for application-scoped tokens: they see only this application's resources. */
  appId: string | null;
  label: string;
  scopes: string[];
  /** Set for queue-scoped tokens: pull routes answer only for these queues. */
  queues: string[] | null;
}

/** What `authenticate` puts on every `/v1` request's context (`c.get("auth")`). */
declare module "../http/env.ts" {
  interface AuthenticatedCaller extends Principal {}
}

/** Hono environment shared by every route: what middleware puts on the context. */
import type { Principal } from "../tenancy/principal.ts";

export interface HttpVariables {
  requestId: string;
  clientIp: string;
  /** Set by the bearer-token middleware on every `/v1` route. */
  auth: Principal;
}

export interface HttpBindings {
  /** From the runtime adapter (see serve/). */
  clientIp?: string;
}

export interface HttpEnv {
  Bindings: HttpBindings;
  Variables: HttpVariables;
}

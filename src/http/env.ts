/** Hono environment shared by every route: what middleware puts on the context. */
export interface HttpVariables {
  requestId: string;
  clientIp: string;
}

export interface HttpEnv {
  Variables: HttpVariables;
}

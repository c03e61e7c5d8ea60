/** Ledger stream names of the inbound capability, in one place so every writer names a stream the same way. */
export const ingressRouteStream = (routeId: string) => `ingress_route:${routeId}`;
export const receiptStream = (receiptId: string) => `ingress:${receiptId}`;
export const pullQueueStream = (queue: string) => `pull_queue:${queue}`;
export const pullMessageStream = (messageId: string) => `pull_message:${messageId}`;

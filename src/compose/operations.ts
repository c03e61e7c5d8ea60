/** Every capability's HTTP operations, for the OpenAPI document (the HTTP layer adds its own: /health, /metrics…). */
import type { Config } from "../config.ts";
import type { Operation, WebhookDoc } from "../http/openapi/operation.ts";
import { tenancyOperations } from "../tenancy/operations.ts";
import { operationalWebhookDocs, outboundOperations } from "../outbound/operations.ts";
import { inboundOperations } from "../inbound/operations.ts";
import { consoleOperations } from "../console/operations.ts";

export const capabilityOperations = (config: Config): Operation[] => [...tenancyOperations(), ...outboundOperations(config), ...inboundOperations(config), ...consoleOperations()];

/** The webhooks hookledger itself sends, for the OpenAPI document's `webhooks`. */
export const capabilityWebhooks = (): WebhookDoc[] => operationalWebhookDocs();

/** Every projection, in the order they apply. Each capability owns its own; this list only assembles them. */
import type { Projection } from "../ledger/projection.ts";
import { tenancyProjections } from "../tenancy/projections.ts";
import { outboundProjections } from "../outbound/projections.ts";
import { inboundProjections } from "../inbound/projections.ts";
import { consoleProjections } from "../console/projections.ts";

export const projections: readonly Projection[] = [...tenancyProjections, ...outboundProjections, ...inboundProjections, ...consoleProjections];

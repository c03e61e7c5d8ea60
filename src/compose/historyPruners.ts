/** What retention prunes per tenant: each capability's history past the tenant's retention (see ledger/retention.ts). */
import type { HistoryPruner } from "../ledger/historyPruner.ts";
import { pruneDeliveryHistory } from "../outbound/pruneHistory.ts";

export const historyPruners: readonly HistoryPruner[] = [pruneDeliveryHistory];

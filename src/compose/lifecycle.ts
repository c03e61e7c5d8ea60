/** What each capability does when tenancy deletes an application (see ApplicationDeletionHook in context.ts). */
import type { ApplicationDeletionHook } from "../context.ts";
import { announceEndpointsOfDeletedApplication } from "../outbound/subscriptions.ts";

export const applicationDeletionHooks: readonly ApplicationDeletionHook[] = [announceEndpointsOfDeletedApplication];

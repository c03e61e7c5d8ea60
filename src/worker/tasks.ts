/** Every graphile-worker task and cron entry hookledger runs, assembled from the capabilities. */
import type { TaskList } from "graphile-worker";
import type { AppContext } from "../context.ts";
import { ENSURE_PARTITIONS_CRON, ENSURE_PARTITIONS_TASK, ensurePartitionsTask } from "../ledger/partitionTask.ts";
import { APPLY_RETENTION_CRON, APPLY_RETENTION_TASK, applyRetentionTask } from "../ledger/retentionTask.ts";
import { deliverTask } from "../outbound/deliverTask.ts";
import { DELIVER_TASK, PROMOTE_RETRIES_TASK } from "../outbound/jobs.ts";
import { promoteRetriesTask } from "../outbound/promoteRetriesTask.ts";
import { PUBLISH_TASK, publishTask } from "../inbound/publishTask.ts";
import { EXPIRE_SESSIONS_CRON, EXPIRE_SESSIONS_TASK, expireSessionsTask } from "../console/expireSessionsTask.ts";
import { EXPIRE_IDEMPOTENCY_KEYS_CRON, EXPIRE_IDEMPOTENCY_KEYS_TASK, expireIdempotencyKeysTask } from "../tenancy/expireIdempotencyKeysTask.ts";

export function buildTaskList(ctx: AppContext): TaskList {
  return {
    [ENSURE_PARTITIONS_TASK]: ensurePartitionsTask(ctx),
    [APPLY_RETENTION_TASK]: applyRetentionTask(ctx),
    [DELIVER_TASK]: deliverTask(ctx),
    [PROMOTE_RETRIES_TASK]: promoteRetriesTask(ctx),
    [PUBLISH_TASK]: publishTask(ctx),
    [EXPIRE_SESSIONS_TASK]: expireSessionsTask(ctx),
    [EXPIRE_IDEMPOTENCY_KEYS_TASK]: expireIdempotencyKeysTask(ctx),
  };
}

export const crontab = [ENSURE_PARTITIONS_CRON, APPLY_RETENTION_CRON, EXPIRE_SESSIONS_CRON, EXPIRE_IDEMPOTENCY_KEYS_CRON].join("\n");

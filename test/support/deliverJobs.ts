/**
 * The deliveries queued as `deliver` jobs, one row per delivery, whatever shape the job's payload has
 * (src/outbound/deliverTask.ts): a list of ids (a flush's fan-out jobs, sql/096), a list of items (jobs the service
 * builds in TypeScript), or the single item of the first version. Read as the owner, past row-level security.
 */
import type { Sql } from "../../src/db/connect.ts";

export interface QueuedDelivery {
  job_id: string;
  priority: number;
  run_at: Date;
  /** The job's deliveries, in the job's order. */
  items: number;
  org_id: string;
  delivery_id: string;
  attempt: number;
}

/** Every queued delivery, in job order and each job's order; `orgId` narrows them to one organization. */
export async function queuedDeliveries(owner: Sql, orgId?: string): Promise<QueuedDelivery[]> {
  return owner<QueuedDelivery[]>`
    select j.id::text as job_id, j.priority, j.run_at, count(*) over (partition by j.id)::int as items,
           item.org_id, item.delivery_id, item.attempt
    from graphile_worker._private_jobs j
    join graphile_worker._private_tasks k on k.id = j.task_id
    cross join lateral (select j.payload::jsonb as p) payload
    cross join lateral (
      select i.value->>'org_id' as org_id, i.value->>'delivery_id' as delivery_id, coalesce((i.value->>'attempt')::int, 1) as attempt, i.ordinality as n
      from jsonb_array_elements(case jsonb_typeof(p) when 'array' then p else '[]' end) with ordinality as i
      union all
      select p->>'org_id', d.value, (p->>'attempt')::int, d.ordinality
      from jsonb_array_elements_text(case when p ? 'delivery_ids' then p->'delivery_ids' else '[]' end) with ordinality as d
      union all
      select p->>'org_id', p->>'delivery_id', coalesce((p->>'attempt')::int, 1), 1
      where jsonb_typeof(p) = 'object' and p ? 'delivery_id'
    ) item
    where k.identifier = 'deliver' and (${orgId ?? null}::text is null or item.org_id = ${orgId ?? null}::text)
    order by j.id, item.n`;
}

/** The queued deliveries grouped by job, in job order. */
export function byJob(deliveries: QueuedDelivery[]): QueuedDelivery[][] {
  const jobs = new Map<string, QueuedDelivery[]>();
  for (const delivery of deliveries) jobs.set(delivery.job_id, [...(jobs.get(delivery.job_id) ?? []), delivery]);
  return [...jobs.values()];
}

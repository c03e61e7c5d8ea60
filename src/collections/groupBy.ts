/**
 * Groups items by a key, each group in the items' order.
 *
 * Why a helper: the spelling `map.set(k, [...(map.get(k) ?? []), item])` copied a group's array for every item it
 * gained, so grouping n items into one group cost n²/2 copies: ingest batches put up to 256 × F deliveries in one
 * job bucket, and an application's subscriptions (thousands) were grouped at every fan-out cache load.
 * (`Map.groupBy` is not in Node 20, which the test suite also runs on.)
 *
 * @example
 * groupBy(["ant", "bee", "asp"], (word) => word[0]); // Map { "a" => ["ant", "asp"], "b" => ["bee"] }
 */
export function groupBy<T, K>(items: Iterable<T>, keyOf: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}

/**
 * JSON values spelled canonically: two values have the same text exactly when they are the same JSON value (object
 * keys sorted, arrays in order, numbers by value, strings quoted so none is taken for a number, `true` or `null`).
 * Used by the payload-schema keywords that compare values (enumKeyword.ts, uniqueItems.ts) and by the idempotency
 * fingerprint of a JSON payload (ingest.ts).
 */

export const byKey = ([a]: [string, unknown], [b]: [string, unknown]) => (a < b ? -1 : a > b ? 1 : 0);

/** A scalar inside a container: strings quoted, numbers by value (String: JSON.parse makes 1e400 Infinity). */
export function scalarText(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

/**
 * The canonical JSON text of `value`, or undefined as soon as it would be longer than `budget` characters: two
 * values have the same text exactly when they are the same JSON value.
 */
export function canonicalText(value: unknown): string;
export function canonicalText(value: unknown, budget: number): string | undefined;
export function canonicalText(value: unknown, budget = Number.POSITIVE_INFINITY): string | undefined {
  const parts: string[] = [];
  let length = 0;
  const add = (part: string): boolean => {
    parts.push(part);
    length += part.length;
    return length <= budget;
  };
  const spell = (node: unknown): boolean => {
    if (typeof node !== "object" || node === null) return add(scalarText(node));
    if (Array.isArray(node)) {
      // Each item takes at least one character and each comma one more.
      if (length + 2 * node.length + 1 > budget) return false;
      if (!add("[")) return false;
      for (let i = 0; i < node.length; i++) if ((i > 0 && !add(",")) || !spell(node[i])) return false;
      return add("]");
    }
    const entries = Object.entries(node as Record<string, unknown>);
    // Each member takes at least four characters (`"":0`) and each comma one more.
    if (length + 5 * entries.length + 1 > budget) return false;
    if (!add("{")) return false;
    entries.sort(byKey);
    for (let i = 0; i < entries.length; i++) {
      const [key, member] = entries[i] as [string, unknown];
      if ((i > 0 && !add(",")) || !add(`${JSON.stringify(key)}:`) || !spell(member)) return false;
    }
    return add("}");
  };
  return spell(value) ? parts.join("") : undefined;
}

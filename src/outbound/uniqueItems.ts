/**
 * JSON Schema's `uniqueItems` for tenants' payload schemas, in time linear in the payload. Ajv's own compares every
 * pair of items with deep equality unless the schema says they are scalars: under `{"type":"array","uniqueItems":true}`
 * the payload `[[0],[1],…,[39999]]` (309 KB) blocked the event loop for 33 s, and every request of the process with it.
 *
 * Here each item gets a name, equal for two items exactly when they are the same JSON value (numbers by value, so 1
 * and 1.0 are one; objects whatever their key order; arrays in order), and the names go into a Map. A container's
 * name is spelled from its members' names and then interned to a short one, and one validation remembers the names
 * and verdicts it has found, so arrays nested in arrays that are each unique (`{"items":{"$ref":"#"}}`) spell each
 * value once, not once per level above it, and an array under several `uniqueItems` is checked once.
 */
import type { ErrorObject, FuncKeywordDefinition } from "ajv/dist/2020.js";
import { byKey, scalarText } from "./canonicalJson.ts";

type KeywordValidator = ReturnType<NonNullable<FuncKeywordDefinition["compile"]>>;

/** Two items of an array that are the same JSON value: `j` the first of them, `i` the first one after it. */
interface Duplicate {
  i: number;
  j: number;
}

/**
 * What one validation has learnt: the name of each object and array it has named, and each array's first duplicate.
 * Ajv hands it to the keyword as `this` (its `passContext` option); payloads are not changed while validated.
 */
export class PayloadValueNames {
  private readonly containers = new WeakMap<object, string>();
  private readonly interned = new Map<string, string>();
  private readonly verdicts = new WeakMap<unknown[], Duplicate | null>();

  /** A name that two values share exactly when they are the same JSON value. */
  nameOf(value: unknown): string {
    if (typeof value !== "object" || value === null) return scalarText(value);
    const known = this.containers.get(value);
    if (known !== undefined) return known;
    const spelled = Array.isArray(value)
      ? `[${value.map((item) => this.nameOf(item)).join(",")}]`
      : `{${Object.entries(value as Record<string, unknown>)
          .sort(byKey)
          .map(([key, member]) => `${JSON.stringify(key)}:${this.nameOf(member)}`)
          .join(",")}}`;
    let name = this.interned.get(spelled);
    if (name === undefined) {
      // `#` starts no scalar's spelling.
      name = `#${this.interned.size}`;
      this.interned.set(spelled, name);
    }
    this.containers.set(value, name);
    return name;
  }

  /** The first item that repeats an earlier one, or null when all items differ. */
  firstDuplicate(items: unknown[]): Duplicate | null {
    const known = this.verdicts.get(items);
    if (known !== undefined) return known;
    let duplicate: Duplicate | null = null;
    const seen = new Map<string, number>();
    for (let i = 0; i < items.length && duplicate === null; i++) {
      const name = this.nameOf(items[i]);
      const j = seen.get(name);
      if (j === undefined) seen.set(name, i);
      else duplicate = { i, j };
    }
    this.verdicts.set(items, duplicate);
    return duplicate;
  }
}

function uniqueItemsValidator(): KeywordValidator {
  const validate: KeywordValidator = function (this: unknown, items: unknown[]): boolean {
    // Called without a validation's names (not through payloadViolations), it still runs in linear time.
    const names = this instanceof PayloadValueNames ? this : new PayloadValueNames();
    const duplicate = names.firstDuplicate(items);
    if (duplicate === null) return true;
    const error: Partial<ErrorObject> = {
      keyword: "uniqueItems",
      params: duplicate,
      // Ajv's wording, so that errors read as they did.
      message: `must NOT have duplicate items (items ## ${duplicate.j} and ${duplicate.i} are identical)`,
    };
    validate.errors = [error];
    return false;
  };
  return validate;
}

const alwaysValid: KeywordValidator = () => true;

/** Replaces Ajv's `uniqueItems` (remove that one first); validate with a PayloadValueNames as `this`. */
export const uniqueItemsKeyword: FuncKeywordDefinition = {
  keyword: "uniqueItems",
  type: "array",
  schemaType: "boolean",
  errors: true,
  compile: (unique: boolean) => (unique ? uniqueItemsValidator() : alwaysValid),
};

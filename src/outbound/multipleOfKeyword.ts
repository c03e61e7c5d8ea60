/**
 * JSON Schema's `multipleOf` for tenants' payload schemas, decided as a person reading the numbers would. Ajv's
 * divides and asks for a whole quotient, and in binary floating point 0.3 / 0.1 is 2.9999999999999996 and
 * 1234567.89 / 0.01 is 123456788.99999999: `{"multipleOf": 0.01}` refused prices a producer wrote exactly (sweep
 * 19). Here the quotient may miss a whole number by what the division's rounding can add: a few units in the last
 * place of the quotient, never a visible fraction (0.015 is still not a multiple of 0.01).
 */
import type { ErrorObject, FuncKeywordDefinition } from "ajv/dist/2020.js";

type KeywordValidator = ReturnType<NonNullable<FuncKeywordDefinition["compile"]>>;

/** Units in the last place the quotient may be off by: each of the two numbers' rounding and the division's. */
const ULPS = 4;

/** Whether `value` is a whole multiple of `divisor` (> 0), allowing for binary rounding. */
export function isMultipleOf(value: number, divisor: number): boolean {
  const quotient = value / divisor;
  if (!Number.isFinite(quotient)) return false;
  return Math.abs(quotient - Math.round(quotient)) <= Math.max(Math.abs(quotient), 1) * ULPS * Number.EPSILON;
}

/**
 * Replaces Ajv's `multipleOf` (remove that one first). `before: "format"` keeps it where Ajv's was among the
 * number keywords, so errors come in the same order and read the same.
 */
export const multipleOfKeyword: FuncKeywordDefinition = {
  keyword: "multipleOf",
  type: "number",
  schemaType: "number",
  errors: true,
  before: "format",
  compile: (divisor: number) => {
    const validate: KeywordValidator = (value: number): boolean => {
      if (isMultipleOf(value, divisor)) return true;
      const error: Partial<ErrorObject> = { keyword: "multipleOf", params: { multipleOf: divisor }, message: `must be multiple of ${divisor}` };
      validate.errors = [error];
      return false;
    };
    return validate;
  },
};

/**
 * Whether a PATCH's changes name at least one field (a field left out is `undefined`).
 *
 * Why: an empty PATCH is answered with the resource as it is, and records nothing — an `.updated` entry naming no
 * change is a fact that never happened (it filled the ledger and the audit log, and told subscribers to
 * `endpoint.updated` of a change with no field).
 *
 * @example
 * namesAChange({ name: undefined }); // false
 * namesAChange({ description: null }); // true: null clears the field
 */
export function namesAChange(changes: object): boolean {
  return Object.values(changes).some((value) => value !== undefined);
}

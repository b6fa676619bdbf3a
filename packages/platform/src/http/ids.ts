const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Whether an id from a path or a cursor is a UUID, as the ids of rows are: another one names
 * nothing (a 404 or a validation error), and must not reach a uuid column, where it would be a 500.
 */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

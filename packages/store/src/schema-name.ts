/**
 * Schema names travel into SQL text and connection options, where parameters cannot go,
 * so only plain identifiers are accepted.
 */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Throws unless `name` is a lower-case SQL identifier that needs no quoting. */
export function assertSchemaName(name: string): void {
  if (!SCHEMA_NAME.test(name)) {
    throw new Error(`Invalid schema name "${name}": use lower-case letters, digits and underscores`);
  }
}

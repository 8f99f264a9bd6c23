/**
 * Writes whose results a command does not need before its next statement, sent together:
 * each becomes a data-modifying CTE of one statement (PostgreSQL runs every one of them to
 * completion, in the same snapshot), so n such writes cost one round trip instead of n.
 * They touch different rows, or rows an earlier statement of the transaction wrote; none may
 * need to see another's effect.
 */
import type { TenantDb } from './tenant';

/** One data-modifying statement with `$1`-style parameters and a RETURNING clause. */
export interface WriteStatement {
  readonly sql: string;
  readonly params: readonly unknown[];
  /** The rows it must return; fewer or more is an error (`failure` says what went wrong). */
  readonly expectRows?: number;
  readonly failure?: string;
}

/** Runs the statements as one; returns how many rows each returned. Throws if one returned other than it expected. */
export async function writeTogether(db: TenantDb, statements: readonly WriteStatement[]): Promise<number[]> {
  if (statements.length === 0) return [];
  const params: unknown[] = [];
  const ctes = statements.map((s, i) => {
    const offset = params.length;
    params.push(...s.params);
    // Only the placeholders move: the texts are the store's own, their values stay parameters.
    return `w${i} AS (${s.sql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + offset}`)})`;
  });
  const counts = statements.map((_, i) => `(SELECT count(*) FROM w${i})::int AS c${i}`);
  const [row] = await db.query<Record<string, unknown>>(`WITH ${ctes.join(',\n')}\nSELECT ${counts.join(', ')}`, params);
  const returned = statements.map((_, i) => Number(row?.[`c${i}`] ?? 0));
  for (const [i, s] of statements.entries()) {
    if (s.expectRows !== undefined && returned[i] !== s.expectRows) {
      throw new Error(s.failure ?? `A write returned ${returned[i]} rows for ${s.expectRows}`);
    }
  }
  return returned;
}

import { findTopLevel, isWord, writeBlockingLock } from '../shape';
import type { Statement } from '../../sql';
import type { Rule } from '../types';

/**
 * Locks last until the migration commits: a backfill or a scan after an ALTER TABLE runs with that table
 * blocked (strong_migrations' "backfilling data", eugene's E4).
 */
export const dmlWhileTableLocked: Rule = {
  name: 'dml-while-table-locked',
  appliesTo: ['expand', 'contract'],
  allowable: true,
  summary: 'UPDATE, DELETE, INSERT ... SELECT, MERGE, COPY or SELECT ... FROM after a statement of the same file that locked an existing table',
  check(statement, context) {
    const kind = dmlKind(statement);
    if (!kind) return [];
    for (const earlier of context.statements.slice(0, context.index)) {
      const locked = writeBlockingLock(earlier, context.isNewTable);
      if (!locked) continue;
      return [
        {
          line: statement.line,
          message:
            `this ${kind} runs while the lock taken at line ${earlier.line} on ${locked} is still held (locks last until the migration ` +
            'commits), so that table stays blocked for as long as it takes; move it into a migration file of its own (before the ' +
            'locking statement, or after it), and backfill large tables in batches',
        },
      ];
    }
    return [];
  },
};

function dmlKind(statement: Statement): string | null {
  const t = statement.tokens;
  let i = 0;
  // WITH ... AS (...) [, ...] <statement>: the statement after the CTEs decides.
  if (isWord(t[0], 'WITH')) {
    const main = t.findIndex((tok, k) => k > 0 && isWord(tok, 'UPDATE', 'DELETE', 'INSERT', 'MERGE', 'SELECT') && findTopLevel(t.slice(0, k + 1), tok.upper!) === k);
    if (main < 0) return null;
    i = main;
  }
  const first = t[i]?.upper;
  if (first === 'UPDATE' || first === 'DELETE' || first === 'MERGE' || first === 'COPY') return first;
  if (first === 'INSERT') return findTopLevel(t.slice(i), 'SELECT') >= 0 ? 'INSERT ... SELECT' : null;
  if (first === 'SELECT') return findTopLevel(t.slice(i), 'FROM') >= 0 ? 'SELECT' : null;
  return null;
}

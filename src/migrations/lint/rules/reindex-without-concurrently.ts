import { parseReindex } from '../../reindex';
import type { Rule } from '../types';

/**
 * Checked on PostgreSQL 15 (test/lint-agrees-with-postgres.test.ts): REINDEX INDEX/TABLE holds SHARE on the
 * table and ACCESS EXCLUSIVE on each index it rebuilds until commit; REINDEX ... CONCURRENTLY takes SHARE
 * UPDATE EXCLUSIVE only.
 */
export const reindexWithoutConcurrently: Rule = {
  name: 'reindex-without-concurrently',
  appliesTo: ['expand', 'contract'],
  allowable: true,
  summary: 'REINDEX without CONCURRENTLY (and REINDEX SYSTEM, which has no concurrent form)',
  check(statement, context) {
    const reindex = parseReindex(statement);
    if (!reindex || reindex.concurrently) return [];
    const target = reindex.target ?? '';
    if (reindex.kind === 'TABLE' && reindex.targetName && context.isNewTable(reindex.targetName)) return [];
    if (reindex.kind === 'INDEX' && reindex.targetName) {
      const index = context.schema.index(reindex.targetName);
      if (index && context.isNewTable(index.table)) return [];
    }
    if (reindex.kind === 'SYSTEM') {
      return [
        {
          line: statement.line,
          message:
            'REINDEX SYSTEM takes ACCESS EXCLUSIVE on the system catalogs\' indexes one after another, stalling every session ' +
            'that looks up a table, and has no CONCURRENTLY form; do not run it from a migration: run it by hand in a maintenance window',
        },
      ];
    }
    return [
      {
        line: statement.line,
        message:
          `REINDEX ${reindex.kind} ${target} without CONCURRENTLY holds SHARE on each table (blocking writes) and ACCESS EXCLUSIVE ` +
          `on each index it rebuilds (blocking reads that use it) until it commits; use REINDEX ${reindex.kind} CONCURRENTLY ${target}, ` +
          'alone in its own migration file (the runner drops the invalid *_ccnew index an interrupted run leaves behind)',
      },
    ];
  },
};

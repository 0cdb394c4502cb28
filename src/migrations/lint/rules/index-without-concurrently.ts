import { parseCreateIndex, quote } from '../shape';
import type { Rule } from '../types';

export const indexWithoutConcurrently: Rule = {
  name: 'index-without-concurrently',
  appliesTo: ['expand', 'contract'],
  allowable: true,
  summary: 'CREATE INDEX without CONCURRENTLY on a table that already exists',
  check(statement, context) {
    const index = parseCreateIndex(statement);
    if (!index || index.concurrently) return [];
    if (index.table && context.isNewTable(index.table.name)) return [];
    const table = index.table ? quote(index.table.name) : 'the table';
    return [
      {
        line: statement.line,
        message:
          `CREATE INDEX without CONCURRENTLY blocks every write to ${table} until the index is built; ` +
          'use CREATE INDEX CONCURRENTLY IF NOT EXISTS, alone in its own migration file',
      },
    ];
  },
};

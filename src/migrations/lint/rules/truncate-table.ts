import { isWord } from '../shape';
import type { Rule } from '../types';

export const truncateTable: Rule = {
  name: 'truncate-table',
  appliesTo: ['expand'],
  allowable: true,
  summary: 'TRUNCATE in an expand migration',
  check(statement) {
    if (!isWord(statement.tokens[0], 'TRUNCATE')) return [];
    return [
      {
        line: statement.line,
        message:
          'TRUNCATE deletes every row under an ACCESS EXCLUSIVE lock and cannot be undone by rolling back the deploy; ' +
          'delete the data in a contract migration (in batches with DELETE ... WHERE if the table is in use)',
      },
    ];
  },
};

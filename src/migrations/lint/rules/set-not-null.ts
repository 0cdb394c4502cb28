import { alterOfExistingTable, parseAlterColumn, quote, wordsAt } from '../shape';
import type { Rule, RuleHit } from '../types';

export const setNotNull: Rule = {
  name: 'set-not-null',
  appliesTo: ['expand'],
  allowable: true,
  summary: 'ALTER COLUMN ... SET NOT NULL on an existing table',
  check(statement, context) {
    const alter = alterOfExistingTable(statement, context.isNewTable);
    if (!alter) return [];
    const hits: RuleHit[] = [];
    for (const action of alter.actions) {
      const column = parseAlterColumn(action);
      if (!column || !wordsAt(column.rest, 0, 'SET', 'NOT', 'NULL')) continue;
      const col = quote(column.column);
      hits.push({
        line: column.at.line,
        message:
          `SET NOT NULL on ${quote(alter.table.name)}.${col} scans the whole table under an ACCESS EXCLUSIVE lock; ` +
          `add CHECK (${col} IS NOT NULL) NOT VALID, run VALIDATE CONSTRAINT in a later migration, then SET NOT NULL in a ` +
          'migration after that (PostgreSQL 12+ skips the scan when the validated check exists; acknowledge it then with ' +
          '-- lint-allow: set-not-null <constraint name>)',
      });
    }
    return hits;
  },
};

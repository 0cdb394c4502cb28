import { alterOfExistingTable, isWord, parseAlterColumn, quote, wordsAt } from '../shape';
import type { Rule, RuleHit } from '../types';

export const alterColumnType: Rule = {
  name: 'alter-column-type',
  appliesTo: ['expand'],
  allowable: true,
  summary: 'ALTER COLUMN ... TYPE on an existing table',
  check(statement, context) {
    const alter = alterOfExistingTable(statement, context.isNewTable);
    if (!alter) return [];
    const hits: RuleHit[] = [];
    for (const action of alter.actions) {
      const column = parseAlterColumn(action);
      if (!column) continue;
      const changesType = isWord(column.rest[0], 'TYPE') || wordsAt(column.rest, 0, 'SET', 'DATA', 'TYPE');
      if (!changesType) continue;
      hits.push({
        line: column.at.line,
        message:
          `changing the type of ${quote(alter.table.name)}.${quote(column.column)} usually rewrites the table and its indexes ` +
          'under an ACCESS EXCLUSIVE lock, and the old version may not read the new type; add a new column of the new type, ' +
          'write both from the new version, backfill in batches, switch readers, and drop the old column in a contract ' +
          'migration (a change known not to rewrite, e.g. varchar(n) to text, may be acknowledged with -- lint-allow: alter-column-type <why>)',
      });
    }
    return hits;
  },
};

import { alterOfExistingTable, isWord, parseAddColumn, quote, wordsAt } from '../shape';
import type { Rule, RuleHit } from '../types';

export const notNullColumnWithoutDefault: Rule = {
  name: 'not-null-column-without-default',
  appliesTo: ['expand'],
  allowable: true,
  summary: 'ADD COLUMN ... NOT NULL without a DEFAULT on an existing table',
  check(statement, context) {
    const alter = alterOfExistingTable(statement, context.isNewTable);
    if (!alter) return [];
    const hits: RuleHit[] = [];
    for (const action of alter.actions) {
      const add = parseAddColumn(action);
      if (!add) continue;
      const c = add.column.constraints;
      const notNull = c.some((tok, k) => isWord(tok, 'NOT') && wordsAt(c, k + 1, 'NULL'));
      const filled = c.some((tok) => isWord(tok, 'DEFAULT', 'GENERATED'));
      if (!notNull || filled) continue;
      hits.push({
        line: add.at.line,
        message:
          `ADD COLUMN ${quote(add.column.name)} NOT NULL without a DEFAULT fails when ${quote(alter.table.name)} has rows, ` +
          'and the old version\'s INSERTs, which do not set the column, would fail too; add the column with a constant ' +
          'DEFAULT (no rewrite since PostgreSQL 11), or add it nullable, backfill, and enforce NOT NULL in later migrations',
      });
    }
    return hits;
  },
};

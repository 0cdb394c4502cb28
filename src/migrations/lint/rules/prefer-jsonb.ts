import type { Token } from '../../sql';
import { createTableColumns, isWord, parseAddColumn, parseAlterColumn, parseAlterTable, quote, wordsAt } from '../shape';
import type { Rule, RuleHit } from '../types';

/** `json` keeps the text as written: no equality operator (so no DISTINCT, GROUP BY or UNIQUE), no GIN index. */
export const preferJsonb: Rule = {
  name: 'prefer-jsonb',
  appliesTo: ['expand', 'contract'],
  allowable: true,
  summary: 'a column of type json',
  check(statement) {
    const hits: RuleHit[] = [];
    const report = (column: string, type: Token[], at: Token): void => {
      if (!isWord(type[0], 'JSON')) return;
      hits.push({
        line: at.line,
        message:
          `column ${quote(column)} is declared json, which stores text re-parsed on every access and has no equality ` +
          'operator or GIN index support; declare it jsonb',
      });
    };
    for (const column of createTableColumns(statement)) report(column.name, column.type, column.nameToken);
    const alter = parseAlterTable(statement);
    for (const action of alter?.actions ?? []) {
      const add = parseAddColumn(action);
      if (add) report(add.column.name, add.column.type, add.at);
      const change = parseAlterColumn(action);
      if (!change) continue;
      const typeAt = isWord(change.rest[0], 'TYPE') ? 1 : wordsAt(change.rest, 0, 'SET', 'DATA', 'TYPE') ? 3 : -1;
      if (typeAt > 0) report(change.column, change.rest.slice(typeAt), change.at);
    }
    return hits;
  },
};

import type { Token } from '../../sql';
import { alterOfExistingTable, isWord, parseAddColumn, parseAlterColumn, parseAlterTable, quote, sameTable, wordsAt } from '../shape';
import type { Rule, RuleHit } from '../types';

/**
 * ADD COLUMN ... NOT NULL DEFAULT x is the safe way to add a required column: the old version's INSERTs, which
 * do not name it, get the default. Dropping that default in the same expand takes this away, and they fail on
 * NOT NULL during the deploy and after a rollback. Checked on PostgreSQL 15 (test/lint-agrees-with-postgres.test.ts).
 */
export const notNullDefaultDropped: Rule = {
  name: 'not-null-default-dropped',
  appliesTo: ['expand'],
  allowable: true,
  summary: 'DROP DEFAULT on a NOT NULL column that the same expand migration added with that default',
  check(statement, context) {
    const alter = alterOfExistingTable(statement, context.isNewTable);
    if (!alter) return [];
    const table = alter.table.name;
    const earlierActions: Token[][] = [];
    for (const s of context.statements.slice(0, context.index)) {
      const earlier = parseAlterTable(s);
      if (earlier && sameTable(earlier.table.name, table)) earlierActions.push(...earlier.actions);
    }
    const hits: RuleHit[] = [];
    alter.actions.forEach((action, k) => {
      const column = parseAlterColumn(action);
      if (!column || !wordsAt(column.rest, 0, 'DROP', 'DEFAULT')) return;
      const added = [...earlierActions, ...alter.actions.slice(0, k)].some((a) => {
        const add = parseAddColumn(a);
        if (!add || add.column.name !== column.column) return false;
        const c = add.column.constraints;
        return c.some((tok, i) => isWord(tok, 'NOT') && isWord(c[i + 1], 'NULL')) && c.some((tok) => isWord(tok, 'DEFAULT'));
      });
      if (!added) return;
      const col = `${quote(table)}.${quote(column.column)}`;
      hits.push({
        line: column.at.line,
        message:
          `${col} was added NOT NULL with a DEFAULT in this migration, and dropping the default makes every INSERT of the old ` +
          'version (which does not name the column) fail on NOT NULL during the deploy and after a rollback; keep the default ' +
          'until no old release is left, then drop it in a contract migration',
      });
    });
    return hits;
  },
};

import { alterOfExistingTable, parseAlterColumn, quote, wordsAt } from '../shape';
import type { Rule, RuleHit } from '../types';

/** Not a locking problem: the old version, still running until the deploy finishes, may not expect NULLs. */
export const dropNotNull: Rule = {
  name: 'drop-not-null',
  appliesTo: ['expand'],
  allowable: true,
  summary: 'ALTER COLUMN ... DROP NOT NULL in an expand migration',
  check(statement, context) {
    const alter = alterOfExistingTable(statement, context.isNewTable);
    if (!alter) return [];
    const hits: RuleHit[] = [];
    for (const action of alter.actions) {
      const column = parseAlterColumn(action);
      if (!column || !wordsAt(column.rest, 0, 'DROP', 'NOT', 'NULL')) continue;
      hits.push({
        line: column.at.line,
        message:
          `DROP NOT NULL on ${quote(alter.table.name)}.${quote(column.column)} lets the new version write NULLs that the ` +
          'old version (still serving, and the rollback target) may not handle; drop the constraint in a contract migration ' +
          'once no old reader is left, or acknowledge with -- lint-allow: drop-not-null <why old readers cope>',
      });
    }
    return hits;
  },
};

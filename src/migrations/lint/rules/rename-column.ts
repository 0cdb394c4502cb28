import { alterOfExistingTable, identifierName, isIdentifier, isWord, quote } from '../shape';
import type { Rule, RuleHit } from '../types';

export const renameColumn: Rule = {
  name: 'rename-column',
  appliesTo: ['expand'],
  allowable: true,
  summary: 'ALTER TABLE ... RENAME [COLUMN] a TO b',
  check(statement, context) {
    const alter = alterOfExistingTable(statement, context.isNewTable);
    if (!alter) return [];
    const hits: RuleHit[] = [];
    for (const action of alter.actions) {
      if (!isWord(action[0], 'RENAME')) continue;
      // RENAME TO renames the table (rename-table); RENAME CONSTRAINT is harmless to readers.
      if (isWord(action[1], 'TO', 'CONSTRAINT')) continue;
      const nameAt = isWord(action[1], 'COLUMN') ? 2 : 1;
      const from = action[nameAt];
      if (!isIdentifier(from)) continue;
      hits.push({
        line: action[0]!.line,
        message:
          `renaming column ${quote(alter.table.name)}.${quote(identifierName(from))} breaks the old version, which still ` +
          'queries it by its old name during the deploy and after a rollback; add a new column, write both, backfill, ' +
          'move readers, and drop the old column in a contract migration',
      });
    }
    return hits;
  },
};

import { alterOfExistingTable, identifierName, isIdentifier, isWord, quote, skipWords } from '../shape';
import type { Rule, RuleHit } from '../types';

export const dropColumn: Rule = {
  name: 'drop-column',
  appliesTo: ['expand'],
  allowable: true,
  summary: 'ALTER TABLE ... DROP COLUMN in an expand migration',
  check(statement, context) {
    const alter = alterOfExistingTable(statement, context.isNewTable);
    if (!alter) return [];
    const hits: RuleHit[] = [];
    for (const action of alter.actions) {
      // DROP CONSTRAINT only relaxes rules; the old version keeps working.
      if (!isWord(action[0], 'DROP') || isWord(action[1], 'CONSTRAINT')) continue;
      const at = skipWords(action, isWord(action[1], 'COLUMN') ? 2 : 1, 'IF', 'EXISTS');
      const column = action[at];
      if (!isIdentifier(column)) continue;
      hits.push({
        line: action[0]!.line,
        message:
          `dropping column ${quote(alter.table.name)}.${quote(identifierName(column))} breaks the old version, which still ` +
          'reads it during the deploy and after a rollback; stop using the column in the new version first, then drop it ' +
          'in a contract migration',
      });
    }
    return hits;
  },
};

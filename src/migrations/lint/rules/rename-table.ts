import { alterOfExistingTable, isWord, quote } from '../shape';
import type { Rule, RuleHit } from '../types';

export const renameTable: Rule = {
  name: 'rename-table',
  appliesTo: ['expand'],
  allowable: true,
  summary: 'ALTER TABLE/VIEW ... RENAME TO',
  check(statement, context) {
    const alter = alterOfExistingTable(statement, context.isNewTable);
    if (!alter) return [];
    const hits: RuleHit[] = [];
    for (const action of alter.actions) {
      if (!isWord(action[0], 'RENAME') || !isWord(action[1], 'TO')) continue;
      const kind = alter.objectKind.toLowerCase();
      hits.push({
        line: action[0]!.line,
        message:
          `renaming ${kind} ${quote(alter.table.name)} breaks the old version, which still queries it by its old name ` +
          `during the deploy and after a rollback; create the new ${kind} (or a view with the new name over the old one), ` +
          `move readers and writers, and drop the old ${kind} in a contract migration`,
      });
    }
    return hits;
  },
};

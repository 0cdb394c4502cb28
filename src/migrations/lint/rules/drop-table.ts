import { droppedNames, isWord, quote, skipWords } from '../shape';
import type { Rule, RuleHit } from '../types';

export const dropTable: Rule = {
  name: 'drop-table',
  appliesTo: ['expand'],
  allowable: true,
  summary: 'DROP TABLE in an expand migration',
  check(statement, context) {
    const t = statement.tokens;
    if (!isWord(t[0], 'DROP') || !isWord(t[1], 'TABLE')) return [];
    const names = droppedNames(t, skipWords(t, 2, 'IF', 'EXISTS')).filter((n) => !context.isNewTable(n.name));
    return names.map((name): RuleHit => ({
      line: name.token.line,
      message:
        `dropping table ${quote(name.name)} destroys its data and breaks the old version, which still reads it during the ` +
        'deploy and after a rollback; stop using it in the new version first, then drop it in a contract migration',
    }));
  },
};

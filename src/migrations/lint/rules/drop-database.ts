import { isWord, quote, readQualifiedName, skipWords } from '../shape';
import type { Rule } from '../types';

export const dropDatabase: Rule = {
  name: 'drop-database',
  appliesTo: ['expand', 'contract'],
  allowable: true,
  summary: 'DROP DATABASE',
  check(statement) {
    const t = statement.tokens;
    if (!isWord(t[0], 'DROP') || !isWord(t[1], 'DATABASE')) return [];
    const name = readQualifiedName(t, skipWords(t, 2, 'IF', 'EXISTS'));
    return [
      {
        line: statement.line,
        message:
          `DROP DATABASE${name ? ` ${quote(name.name)}` : ''} destroys a whole database and everything every release stored in it, ` +
          'and no rollback brings it back; a release\'s migrations change their own schema only: drop databases by hand, ' +
          'with a backup, outside the migrations',
      },
    ];
  },
};

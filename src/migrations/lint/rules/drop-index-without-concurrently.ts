import { isWord, wordsAt } from '../shape';
import type { Rule } from '../types';

export const dropIndexWithoutConcurrently: Rule = {
  name: 'drop-index-without-concurrently',
  appliesTo: ['expand', 'contract'],
  allowable: true,
  summary: 'DROP INDEX without CONCURRENTLY',
  check(statement) {
    const t = statement.tokens;
    if (!wordsAt(t, 0, 'DROP', 'INDEX') || isWord(t[2], 'CONCURRENTLY')) return [];
    return [
      {
        line: statement.line,
        message:
          'DROP INDEX takes an ACCESS EXCLUSIVE lock on the indexed table, blocking reads and writes while it waits and runs; ' +
          'use DROP INDEX CONCURRENTLY IF EXISTS (one index, no CASCADE), alone in its own migration file',
      },
    ];
  },
};

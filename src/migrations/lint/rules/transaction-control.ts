import { isWord, wordsAt } from '../shape';
import type { Rule } from '../types';

/** The runner wraps each file in its own transaction and records the ledger row inside it. */
export const transactionControl: Rule = {
  name: 'transaction-control',
  appliesTo: ['expand', 'contract'],
  allowable: false,
  summary: 'BEGIN, COMMIT, ROLLBACK, START TRANSACTION, END, ABORT, SAVEPOINT, RELEASE, PREPARE TRANSACTION',
  check(statement) {
    const t = statement.tokens;
    const controls =
      isWord(t[0], 'BEGIN', 'COMMIT', 'ROLLBACK', 'END', 'ABORT', 'SAVEPOINT', 'RELEASE') ||
      wordsAt(t, 0, 'START', 'TRANSACTION') ||
      wordsAt(t, 0, 'PREPARE', 'TRANSACTION');
    if (!controls) return [];
    const keyword = t[0]!.upper!;
    return [
      {
        line: statement.line,
        message:
          `${keyword} controls the transaction, which the migration runner owns (it runs each file in one transaction ` +
          'and records it in the ledger in that same transaction); remove it — to run a statement outside a transaction ' +
          '(e.g. CREATE INDEX CONCURRENTLY), put it alone in its own migration file',
      },
    ];
  },
};

import { nonTransactionalReason } from '../../sql';
import type { Rule } from '../types';

/** A non-transactional file runs without the all-or-nothing guarantee, so it may hold only one statement. */
export const concurrentlyNotAlone: Rule = {
  name: 'concurrently-not-alone',
  appliesTo: ['expand', 'contract'],
  allowable: false,
  summary: 'a statement that cannot run in a transaction (CONCURRENTLY, VACUUM, ...) sharing its file with other statements',
  check(statement, context) {
    const reason = nonTransactionalReason(statement);
    if (reason === null || context.statements.length <= 1) return [];
    const others = context.statements.length - 1;
    return [
      {
        line: statement.line,
        message:
          `${reason}, so the runner runs such a file outside a transaction and it must hold exactly one statement; ` +
          `move the other ${others} statement${others === 1 ? '' : 's'} into a separate migration file`,
      },
    ];
  },
};

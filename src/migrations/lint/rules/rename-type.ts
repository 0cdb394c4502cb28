import { createdEarlierInFile, isWord, quote, readQualifiedName, wordsAt } from '../shape';
import type { Rule } from '../types';

/** Checked on PostgreSQL 15: after RENAME VALUE the old label is refused ("invalid input value for enum"). */
export const renameType: Rule = {
  name: 'rename-type',
  appliesTo: ['expand'],
  allowable: true,
  summary: 'ALTER TYPE ... RENAME VALUE, RENAME TO or RENAME ATTRIBUTE',
  check(statement, context) {
    const t = statement.tokens;
    if (!wordsAt(t, 0, 'ALTER', 'TYPE')) return [];
    const type = readQualifiedName(t, 2);
    if (!type || !isWord(t[type.end], 'RENAME')) return [];
    if (createdEarlierInFile(context.statements, context.index, 'TYPE', type.name)) return [];
    const what = t[type.end + 1]?.upper;
    const ty = quote(type.name);
    let message: string;
    if (what === 'VALUE') {
      message =
        `renaming a value of enum ${ty} makes PostgreSQL refuse the old label, which the old version still writes and compares ` +
        `against during the deploy and after a rollback; ADD VALUE the new label (own migration), make the new version accept ` +
        'both and write the new one, backfill rows to the new label, and stop accepting the old one later';
    } else if (what === 'ATTRIBUTE') {
      message =
        `renaming an attribute of type ${ty} breaks the old version's queries that use the old name; add the new attribute, ` +
        'move readers and writers, and drop the old one in a contract migration';
    } else {
      message =
        `renaming type ${ty} breaks the old version's queries and functions that name it (casts such as '...'::${type.base}); ` +
        'create the new type, move columns and code to it, and drop the old one in a contract migration';
    }
    return [{ line: statement.line, message }];
  },
};

import { createdEarlierInFile, isIdentifier, quote, readQualifiedName, wordsAt } from '../shape';
import type { Rule } from '../types';

export const renameSchema: Rule = {
  name: 'rename-schema',
  appliesTo: ['expand'],
  allowable: true,
  summary: 'ALTER SCHEMA ... RENAME TO',
  check(statement, context) {
    const t = statement.tokens;
    if (!wordsAt(t, 0, 'ALTER', 'SCHEMA')) return [];
    const schema = readQualifiedName(t, 2);
    if (!schema || !wordsAt(t, schema.end, 'RENAME', 'TO') || !isIdentifier(t[schema.end + 2])) return [];
    if (createdEarlierInFile(context.statements, context.index, 'SCHEMA', schema.name)) return [];
    return [
      {
        line: statement.line,
        message:
          `renaming schema ${quote(schema.name)} breaks every query of the old version that names it (or finds its tables through ` +
          'search_path), during the deploy and after a rollback; create the new schema, move or mirror the tables (views in the ' +
          'new schema over the old tables work), switch readers and writers, and drop the old schema in a contract migration',
      },
    ];
  },
};

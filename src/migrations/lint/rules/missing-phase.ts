import { parseMigrationPhase } from '../../files';
import type { Rule } from '../types';

/** The runner decides when a file runs (before or after the deploy) from its first line alone. */
export const missingPhase: Rule = {
  name: 'missing-phase',
  appliesTo: ['expand', 'contract'],
  allowable: false,
  summary: 'a file whose first line is not `-- phase: expand` or `-- phase: contract`',
  check: () => [],
  checkFile(context) {
    if (parseMigrationPhase(context.text) !== null) return [];
    const first = context.text.replace(/\r\n?/g, '\n').split('\n', 1)[0]!.trim();
    const found = first === '' ? 'the first line is empty' : `the first line is "${truncate(first, 60)}"`;
    return [
      {
        line: 1,
        message:
          `${found}; the runner cannot tell when to run this file — make the first line exactly ` +
          '"-- phase: expand" (additive, runs before the deploy) or "-- phase: contract" (destructive, runs after the new version is validated)',
      },
    ];
  },
};

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

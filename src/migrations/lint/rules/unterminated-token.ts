import { tokenize } from '../../sql';
import type { Rule } from '../types';

/** An unclosed quote or comment swallows the rest of the file, which would hide every statement after it. */
export const unterminatedToken: Rule = {
  name: 'unterminated-token',
  appliesTo: ['expand', 'contract'],
  allowable: false,
  summary: 'a string, quoted identifier, dollar-quoted body or block comment that is never closed',
  check: () => [],
  checkFile(context) {
    const open = tokenize(context.text).find((t) => t.unterminated);
    if (!open) return [];
    const what: Record<string, string> = {
      string: 'string literal',
      quoted_ident: 'quoted identifier',
      dollar_string: `dollar-quoted body ${open.text.slice(0, open.text.indexOf('$', 1) + 1)}`,
      block_comment: 'block comment',
    };
    return [
      {
        line: open.line,
        message:
          `the ${what[open.kind] ?? open.kind} starting here is never closed, so the rest of the file is part of it and ` +
          'PostgreSQL will reject the file; close it',
      },
    ];
  },
};

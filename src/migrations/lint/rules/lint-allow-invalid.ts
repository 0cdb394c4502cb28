import { parseAllowDirectives } from '../allow';
import type { Rule, RuleHit } from '../types';

/** An acknowledgement must say which rule and why, so a reviewer can judge the exception. */
export const lintAllowInvalid: Rule = {
  name: 'lint-allow-invalid',
  appliesTo: ['expand', 'contract'],
  allowable: false,
  summary: 'a `-- lint-allow:` line without a reason, naming an unknown rule, or naming a rule that cannot be acknowledged',
  check(statement, context) {
    const hits: RuleHit[] = [];
    for (const directive of parseAllowDirectives(statement.leadingComments)) {
      const rule = context.rules.find((r) => r.name === directive.rule);
      let problem: string | null = null;
      if (directive.rule === '') {
        problem = 'names no rule';
      } else if (!rule) {
        problem = `names "${directive.rule}", which is not a rule (see deployctl lint-migrations --help for the list)`;
      } else if (!rule.allowable) {
        problem = `names ${rule.name}, which cannot be acknowledged because the runner could not run the file as written`;
      } else if (directive.reason === '') {
        problem = 'gives no reason';
      }
      if (problem) {
        hits.push({
          line: directive.line,
          message: `this lint-allow ${problem}; write it as "-- lint-allow: <rule> <reason>" on the line before the statement`,
        });
      }
    }
    return hits;
  },
};

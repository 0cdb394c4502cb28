import { normalizeSql, parseMigrationPhase } from '../files';
import { splitStatements } from '../sql';
import { parseAllowDirectives } from './allow';
import { RULES } from './rules';
import { createdTableName, sameTable } from './shape';
import type { AllowedFinding, FileContext, Finding, LintResult, StatementContext } from './types';

/**
 * Lints one migration's text. `file` is only used to label findings. A file without a phase line is
 * checked as if it were `expand`, the stricter phase, besides being refused for the missing line.
 */
export function lintMigrationSource(file: string, text: string): LintResult {
  const sql = normalizeSql(text);
  const phase = parseMigrationPhase(sql);
  const rules = RULES.filter((r) => r.appliesTo.includes(phase ?? 'expand'));
  const statements = splitStatements(sql);
  const fileContext: FileContext = { file, text: sql, phase, statements };
  const findings: Finding[] = [];
  const allowed: AllowedFinding[] = [];

  for (const rule of rules) {
    for (const hit of rule.checkFile?.(fileContext) ?? []) findings.push({ file, line: hit.line, rule: rule.name, message: hit.message });
  }

  const createdTables: string[] = [];
  statements.forEach((statement, index) => {
    const context: StatementContext = {
      ...fileContext,
      index,
      isNewTable: (name) => createdTables.some((created) => sameTable(created, name)),
      rules: RULES,
    };
    const directives = parseAllowDirectives(statement.leadingComments);
    for (const rule of rules) {
      for (const hit of rule.check(statement, context)) {
        const finding: Finding = { file, line: hit.line, rule: rule.name, message: hit.message };
        const allow = rule.allowable ? directives.find((d) => d.rule === rule.name && d.reason !== '') : undefined;
        if (allow) allowed.push({ ...finding, reason: allow.reason });
        else findings.push(finding);
      }
    }
    const created = createdTableName(statement);
    if (created) createdTables.push(created);
  });

  const byLine = (a: Finding, b: Finding): number => a.line - b.line;
  return { file, phase, findings: findings.sort(byLine), allowed: allowed.sort(byLine) };
}

import { normalizeSql, parseMigrationPhase } from '../files';
import { splitStatements } from '../sql';
import { parseAllowDirectives } from './allow';
import { RULES } from './rules';
import { KnownSchema } from './schema';
import { createdTableName, sameTable } from './shape';
import type { AllowedFinding, FileContext, Finding, LintResult, StatementContext } from './types';

/**
 * Lints one migration's text. `file` is only used to label findings. A file without a phase line is
 * checked as if it were `expand`, the stricter phase, besides being refused for the missing line.
 * `schema` is what earlier migrations left (see lintMigrationSet); the file's statements are added to it.
 */
export function lintMigrationSource(file: string, text: string, schema: KnownSchema = new KnownSchema()): LintResult {
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
      schema,
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
    schema.apply(statement);
  });

  const byLine = (a: Finding, b: Finding): number => a.line - b.line;
  return { file, phase, findings: findings.sort(byLine), allowed: allowed.sort(byLine) };
}

/**
 * Lints the migrations of one directory in run order, so that a rule may rely on what earlier files did
 * (a CHECK validated in 004 lets 005 SET NOT NULL; a column created varchar(20) in 001 may become text).
 */
export function lintMigrationSet(files: ReadonlyArray<{ file: string; text: string }>): LintResult[] {
  const schema = new KnownSchema();
  return files.map((f) => lintMigrationSource(f.file, f.text, schema));
}

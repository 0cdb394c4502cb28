export { lintMigrationSource, lintMigrationSet } from './lint-source';
export { KnownSchema } from './schema';
export { lintMigrationPaths, resolveMigrationPaths, LintPathError } from './lint-paths';
export { formatFinding, formatAllowed } from './format';
export { runLintCli, lintUsage, type LintCliIo } from './cli';
export { RULES } from './rules';
export type { Finding, AllowedFinding, LintResult, Rule, RuleHit, StatementContext, FileContext } from './types';

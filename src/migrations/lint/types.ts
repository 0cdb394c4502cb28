import type { MigrationPhase } from '../files';
import type { Statement } from '../sql';
import type { KnownSchema } from './schema';

/** One refusal: printed as `<file>:<line>: <rule>: <message>`. */
export interface Finding {
  file: string;
  line: number;
  rule: string;
  /** What is dangerous and the safe alternative. */
  message: string;
}

/** A finding acknowledged by a `-- lint-allow: <rule> <reason>` line before its statement. */
export interface AllowedFinding extends Finding {
  reason: string;
}

export interface LintResult {
  file: string;
  /** The phase declared on the first line, or null when it is missing or malformed. */
  phase: MigrationPhase | null;
  findings: Finding[];
  allowed: AllowedFinding[];
}

/** What a rule reports; the linter adds the file and the rule name. */
export interface RuleHit {
  line: number;
  message: string;
}

export interface FileContext {
  file: string;
  text: string;
  /** The declared phase; rules for a file without one run as if it were `expand`, the stricter phase. */
  phase: MigrationPhase | null;
  statements: Statement[];
}

export interface StatementContext extends FileContext {
  /** Position of the statement being checked in `statements`. */
  index: number;
  /** True when the table was created by an earlier statement of this file, so nothing else uses it yet. */
  isNewTable(name: string): boolean;
  /** Every rule the linter knows, for rules that check acknowledgements. */
  rules: readonly Rule[];
  /**
   * The schema as the earlier migrations of the run and the earlier statements of this file leave it. Only
   * what linted migrations created is known; rules treat the rest as unknown, never as safe.
   */
  schema: KnownSchema;
}

export interface Rule {
  /** kebab-case; the name used in output and in `-- lint-allow:` lines. */
  name: string;
  appliesTo: readonly MigrationPhase[];
  /** False when the runner could not execute the statement at all, so an acknowledgement cannot help. */
  allowable: boolean;
  /** One line for the usage text and the docs: what the rule refuses. */
  summary: string;
  check(statement: Statement, context: StatementContext): RuleHit[];
  /** For findings about the file as a whole (no statement to attach an acknowledgement to). */
  checkFile?(context: FileContext): RuleHit[];
}

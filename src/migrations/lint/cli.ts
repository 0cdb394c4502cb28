import { formatAllowed, formatFinding } from './format';
import { LintPathError, lintMigrationPaths } from './lint-paths';
import { RULES } from './rules';

export interface LintCliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

const USAGE = 'usage: deployctl lint-migrations [--json] <migrations directory or .sql files...>';

export function lintUsage(): string {
  const width = Math.max(...RULES.map((r) => r.name.length));
  return [
    USAGE,
    '',
    'Refuses migration statements that would block the table or break the version still running.',
    'Prints one line per finding: <file>:<line>: <rule>: <what is dangerous; the safe alternative>.',
    'Exit status: 0 when clean, 1 when there are findings, 2 on a usage error.',
    '',
    'Options:',
    '  --json    print one JSON object instead of lines',
    '  --help    print this text',
    '',
    'Every file starts with "-- phase: expand" or "-- phase: contract". Contract migrations may be destructive,',
    'but a statement that locks a table still needs its non-blocking form. Files are linted in the order given',
    '(a directory in name order), each against the schema the earlier ones left.',
    'Acknowledge a deliberate exception on the line before its statement:',
    '  -- lint-allow: <rule> <reason>',
    '',
    'Rules (phases they apply to):',
    ...RULES.map((r) => `  ${r.name.padEnd(width)}  ${r.summary} (${r.appliesTo.join(', ')})`),
    `  ${'migration-file-name'.padEnd(width)}  a file not named <sortable-id>_<name>.sql (expand, contract)`,
  ].join('\n');
}

/**
 * `deployctl lint-migrations`: `argv` is the arguments after the command name (a leading
 * `lint-migrations` is also accepted). Returns the exit status.
 */
export async function runLintCli(argv: string[], io: LintCliIo): Promise<number> {
  const args = argv[0] === 'lint-migrations' ? argv.slice(1) : argv;
  let json = false;
  const paths: string[] = [];
  let optionsEnded = false;
  for (const arg of args) {
    if (optionsEnded || !arg.startsWith('-') || arg === '-') {
      paths.push(arg);
    } else if (arg === '--') {
      optionsEnded = true;
    } else if (arg === '--help' || arg === '-h') {
      io.out(lintUsage());
      return 0;
    } else if (arg === '--json') {
      json = true;
    } else {
      io.err(`lint-migrations: unknown option ${arg}; ${USAGE}`);
      return 2;
    }
  }
  if (paths.length === 0) {
    io.err(`lint-migrations: no migrations given; pass a migrations directory or .sql files (${USAGE})`);
    return 2;
  }

  let results;
  try {
    results = await lintMigrationPaths(paths);
  } catch (err) {
    if (err instanceof LintPathError) {
      io.err(`lint-migrations: ${err.message}`);
      return 2;
    }
    io.err(`lint-migrations: cannot read the migrations: ${(err as Error).message}`);
    return 2;
  }

  const findings = results.flatMap((r) => r.findings);
  const allowed = results.flatMap((r) => r.allowed);
  const status = findings.length > 0 ? 1 : 0;
  if (json) {
    io.out(JSON.stringify({ ok: status === 0, fileCount: results.length, findingCount: findings.length, allowedCount: allowed.length, results }));
    return status;
  }
  if (results.length === 0) io.err(`lint-migrations: no .sql files in ${paths.join(', ')}`);
  for (const result of results) {
    for (const finding of result.findings) io.out(formatFinding(finding));
    for (const finding of result.allowed) io.out(formatAllowed(finding));
  }
  const counts =
    `${results.length} file${results.length === 1 ? '' : 's'} checked, ` +
    `${findings.length} finding${findings.length === 1 ? '' : 's'}, ${allowed.length} allowed`;
  io.out(
    status === 0
      ? `lint-migrations: ${counts}: ok`
      : `lint-migrations: ${counts}: refused — fix each finding, or acknowledge a deliberate exception with "-- lint-allow: <rule> <reason>" on the line before the statement`,
  );
  return status;
}

import type { Command } from 'commander';
import { lintUsage, runLintCli } from '../../migrations/lint/cli';
import type { ProgramOptions } from '../program';

/** The migration linter keeps its own argument handling and exit codes (0 clean, 1 findings, 2 usage). */
export function registerLintMigrations(cmd: Command, p: ProgramOptions): Command {
  return cmd
    .description('check migration files for statements that lock tables or break the running version')
    .argument('[paths...]', 'a migrations directory or .sql files')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .passThroughOptions()
    .addHelpText('after', `\n${lintUsage()}`)
    .action(async (_paths: string[], _opts: unknown, command: Command) => {
      const args = command.args;
      if (p.dryRun) {
        p.dryRun({ command: 'lint-migrations', request: { args } });
        p.setExitCode(0);
        return;
      }
      p.setExitCode(await runLintCli(args, { out: p.io.out, err: p.io.err }));
    });
}

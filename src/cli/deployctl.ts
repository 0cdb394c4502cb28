import { Command, CommanderError } from 'commander';
import { processIo } from './context';
import { CliError } from './errors';
import { EXIT_CODE_HELP, ExitCode } from './exit-codes';
import { addGlobalOptions, type ProgramOptions } from './program';
import { registerDecision } from './commands/decide';
import { registerDeploy } from './commands/deploy';
import { registerHistory } from './commands/history';
import { registerIntervene } from './commands/intervene';
import { registerPromote } from './commands/promote';
import { registerLintMigrations } from './commands/lint-migrations';
import { registerRollback } from './commands/rollback';
import { registerRunbook } from './commands/runbook';
import { registerStatement } from './commands/statement';
import { registerStatus } from './commands/status';
import { registerUndeploy } from './commands/undeploy';

/** Builds the commander program; `p.dryRun` turns every command into a validate-and-report no-op. */
export function createProgram(p: ProgramOptions): Command {
  const program = new Command('deployctl');
  program
    .description('Deploy, approve, follow, audit, roll back, stop and undeploy releases run by the deployRelease workflow on Temporal.')
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({
      writeOut: (s) => p.io.out(s.replace(/\n$/, '')),
      writeErr: (s) => p.io.err(s.replace(/\n$/, '')),
      outputError: (s, write) => write(s),
    })
    .showHelpAfterError('(add --help for usage and examples)')
    .showSuggestionAfterError(true);
  addGlobalOptions(program);
  program.addHelpText(
    'after',
    `
Configuration comes from the same environment as the worker: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
DEPLOY_TASK_QUEUE, DEPLOY_DATABASE_URL (history, rollback), TEMPORAL_TLS_* / TEMPORAL_API_KEY; the Web UI
links use TEMPORAL_UI_URL (default http://127.0.0.1:8233).

A day's flow (production's gate is signed: requests and decisions carry an SSH signature, --key):
  deployctl deploy examples/hello-service/deploy.yaml --env staging --version 1.1.0 --follow
  deployctl deploy examples/hello-service/deploy.yaml --env production --version 1.1.0 --by carol --key ~/.ssh/id_ed25519 --follow
  deployctl approve hello-service --env production --by alice --key ~/.ssh/id_ed25519   # from another terminal
  deployctl approve hello-service --env production --by alice --key ~/.ssh/id_ed25519 --print   # the temporal command instead
  deployctl statement hello-service --env production --decision approve --by alice     # the bytes to sign elsewhere
  deployctl history hello-service
  deployctl rollback hello-service --env production --spec examples/hello-service/deploy.yaml
  deployctl undeploy hello-service --env staging --spec examples/hello-service/deploy.yaml --reason "retired"

${EXIT_CODE_HELP}`,
  );

  // Global options are listed after each command's own, under their own heading; every command's help
  // ends with the exit codes, since scripts branch on them.
  const finish = (cmd: Command) => addGlobalOptions(cmd).addHelpText('after', `\n${EXIT_CODE_HELP}`);
  finish(registerDeploy(program.command('deploy'), p));
  finish(registerDecision(program.command('approve'), 'approve', p));
  finish(registerDecision(program.command('reject'), 'reject', p));
  finish(registerPromote(program.command('promote'), p));
  finish(registerIntervene(program.command('intervene'), p));
  finish(registerStatement(program.command('statement'), p));
  finish(registerStatus(program.command('status'), p));
  finish(registerHistory(program.command('history'), p));
  finish(registerRollback(program.command('rollback'), p));
  finish(registerRunbook(program.command('runbook'), p));
  finish(registerUndeploy(program.command('stop'), 'stop', p));
  finish(registerUndeploy(program.command('undeploy'), 'undeploy', p));
  registerLintMigrations(program.command('lint-migrations'), p);
  return program;
}

/** Parses and runs one command line; reports the exit code through `p.setExitCode`. */
export async function runDeployctl(argv: string[], p: ProgramOptions): Promise<void> {
  const program = createProgram(p);
  try {
    if (argv.length === 0) {
      program.outputHelp();
      p.setExitCode(ExitCode.usage);
      return;
    }
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are "errors" to commander; everything else it throws is a usage problem.
      p.setExitCode(err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version' ? ExitCode.ok : ExitCode.usage);
      return;
    }
    const command = argv.find((a) => !a.startsWith('-')) ?? '';
    if (err instanceof CliError) {
      p.io.err(`deployctl ${command}: ${err.message}`);
      p.setExitCode(err.exitCode);
      return;
    }
    p.io.err(`deployctl ${command}: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    p.setExitCode(ExitCode.error);
  }
}

/** The package's bin entry: runs one command line and sets process.exitCode. */
export async function main(argv: string[]): Promise<void> {
  await runDeployctl(argv, {
    io: processIo(),
    env: process.env,
    cwd: process.cwd(),
    setExitCode: (code) => {
      process.exitCode = code;
    },
  });
}

if (require.main === module) {
  void main(process.argv.slice(2));
}

import { Option, type Command } from 'commander';
import { CliContext, type CliIo, type GlobalOptions } from './context';

/** A parsed, validated request of one command, as recorded in dry-run mode. */
export interface DryRunCall {
  command: string;
  request: unknown;
}

export interface ProgramOptions {
  io: CliIo;
  env: NodeJS.ProcessEnv;
  /** The working directory local paths (specs, --out) resolve against. */
  cwd: string;
  /**
   * Dry run: commands parse and validate their arguments (no files read, nothing contacted) and report
   * the request here instead of running it. Used to prove documented command lines are accepted.
   */
  dryRun?: (call: DryRunCall) => void;
  /** Receives each command's exit code. */
  setExitCode(code: number): void;
}

/**
 * Each command is split in two: `parse` validates the operator's input without any I/O (so bad input fails
 * before anything is contacted or started), and `execute` does the work and returns an exit code.
 */
export interface CommandSpec<R> {
  parse(args: string[], opts: Record<string, unknown>, p: ProgramOptions): R;
  execute(ctx: CliContext, request: R): Promise<number>;
}

export function addGlobalOptions(cmd: Command): Command {
  const global = (flags: string, description: string) => new Option(flags, description).helpGroup('Global options:');
  return cmd
    .addOption(global('--address <host:port>', 'Temporal frontend address (env TEMPORAL_ADDRESS, default 127.0.0.1:7233)'))
    .addOption(global('--namespace <name>', 'Temporal namespace (env TEMPORAL_NAMESPACE, default "default")'))
    .addOption(global('--task-queue <name>', 'task queue the deploy workers poll (env DEPLOY_TASK_QUEUE, default "deploys")'))
    .addOption(global('--json', 'print one JSON object on stdout instead of text (for scripts)'));
}

/** Wires a command's parse/execute pair into commander, with a context built from its global options. */
export function bindAction<R>(cmd: Command, spec: CommandSpec<R>, p: ProgramOptions): Command {
  return cmd.action(async (...actionArgs: unknown[]) => {
    const command = actionArgs.at(-1) as Command;
    const globals = command.optsWithGlobals<GlobalOptions & Record<string, unknown>>();
    const request = spec.parse(command.processedArgs as string[], globals, p);
    if (p.dryRun) {
      p.dryRun({ command: command.name(), request });
      p.setExitCode(0);
      return;
    }
    const ctx = new CliContext(p.io, p.env, globals);
    try {
      p.setExitCode(await spec.execute(ctx, request));
    } finally {
      await ctx.close();
    }
  });
}

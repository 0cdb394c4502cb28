import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { renderRunbook } from '../../runbook/render';
import type { CliContext } from '../context';
import { firstLine } from '../context';
import { CliError, usageError } from '../errors';
import { ExitCode } from '../exit-codes';
import { bindAction, type CommandSpec, type ProgramOptions } from '../program';
import { checkEnvironment, checkVersion } from '../validate';
import { loadSpecForEnvironment } from './deploy';

interface RunbookRequest {
  spec: string;
  environment: string;
  out?: string;
  examples: { version?: string; previous?: string; knownBad?: string };
}

async function runbook(ctx: CliContext, r: RunbookRequest, cwd: string): Promise<number> {
  const spec = await loadSpecForEnvironment(r.spec, r.environment, cwd);
  const markdown = renderRunbook({ spec, environment: r.environment, specPath: r.spec, taskQueue: ctx.config.DEPLOY_TASK_QUEUE, examples: r.examples });
  if (!r.out) {
    if (ctx.json) ctx.io.out(JSON.stringify({ service: spec.service, environment: r.environment, markdown }));
    else ctx.io.out(markdown.trimEnd());
    return ExitCode.ok;
  }
  const file = path.resolve(cwd, r.out);
  try {
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, markdown);
  } catch (err) {
    throw new CliError(`--out: cannot write ${file}: ${firstLine(err)}`, ExitCode.error);
  }
  if (ctx.json) ctx.io.out(JSON.stringify({ service: spec.service, environment: r.environment, out: file, bytes: Buffer.byteLength(markdown) }));
  else ctx.io.out(`wrote the runbook of ${spec.service} in ${r.environment} to ${r.out}`);
  return ExitCode.ok;
}

const runbookSpec = (cwd: string): CommandSpec<RunbookRequest> => ({
  parse([spec], opts) {
    if (opts.out !== undefined && (typeof opts.out !== 'string' || opts.out.length === 0 || opts.out.includes('\0'))) throw usageError('--out: give a file path to write the Markdown to');
    return {
      spec: spec!,
      environment: checkEnvironment(opts.env, 'runbook'),
      out: opts.out as string | undefined,
      examples: {
        version: opts.exampleVersion === undefined ? undefined : checkVersion(opts.exampleVersion, 'runbook', '--example-version'),
        previous: opts.examplePrevious === undefined ? undefined : checkVersion(opts.examplePrevious, 'runbook', '--example-previous'),
        knownBad: opts.knownBad === undefined ? undefined : checkVersion(opts.knownBad, 'runbook', '--known-bad'),
      },
    };
  },
  execute: (ctx, r) => runbook(ctx, r, cwd),
});

export function registerRunbook(cmd: Command, p: ProgramOptions): Command {
  cmd
    .description('render the Markdown runbook of one environment from the spec: stages, checks, thresholds, approvers, exact commands')
    .argument('<spec>', 'the deploy spec, as you would pass it to deploy')
    .requiredOption('--env <environment>', 'environment in the spec')
    .option('--out <file>', 'write to this file instead of stdout')
    .option('--example-version <version>', 'value shown for $VERSION (the release to ship)')
    .option('--example-previous <version>', 'value shown for $PREVIOUS (a version that was live before)')
    .option('--known-bad <version>', 'value shown for $BAD_VERSION in the rollback rehearsal')
    .addHelpText(
      'after',
      `
The runbook is a pure function of the validated spec: regenerate it whenever the spec changes.

Example:
  deployctl runbook examples/hello-service/deploy.yaml --env production --out docs/runbook-hello-service-production.md`,
    );
  return bindAction(cmd, runbookSpec(p.cwd), p);
}

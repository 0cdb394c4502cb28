import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { Command } from 'commander';
import { REQUEST_MAX_AGE_MS } from '../../activities/plan';
import { DeployAlreadyRunning, startDeploy } from '../../client/deploys';
import { deployRequestStatement } from '../../client/signing';
import { deployWorkflowId } from '../../names';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { isInside, realpathOfNearest } from '../../spec/confine';
import { loadSpec, resolvePlan } from '../../spec/load';
import { deployInputSchema, type DeployInput, type DeploySpec } from '../../spec/schema';
import { describeRequestStatement } from '../../trust/statement';
import { WORKFLOW_TYPE } from '../../workflows/definitions';
import type { CliContext } from '../context';
import { firstLine } from '../context';
import { CliError, usageError } from '../errors';
import { ExitCode } from '../exit-codes';
import { followDeploy } from '../follow';
import { formatTime } from '../format';
import { bindAction, type CommandSpec, type ProgramOptions } from '../program';
import { printCommand, signWithKey, temporalCommand } from '../signing';
import { checkKeyFile, defaultPerson, showValue } from '../validate';

const OPTION_FOR_FIELD: Record<string, string> = { spec: '<spec>', environment: '--env', version: '--version', requestedBy: '--by', reason: '--reason' };

/** Validates a deploy request with the workflow's own input schema; messages name the CLI option. */
export function parseDeployRequest(
  o: { spec: string; env: unknown; version: unknown; by: unknown; reason: unknown },
  p: ProgramOptions,
  command: string,
): DeployInput {
  const fallback = o.by === undefined ? defaultPerson(p.env) : undefined;
  const requestedBy = o.by ?? fallback?.name;
  const raw = { spec: o.spec, environment: o.env, version: o.version, requestedBy, ...(o.reason !== undefined ? { reason: o.reason } : {}) };
  const parsed = deployInputSchema.safeParse(raw);
  if (!parsed.success) {
    // Every bad option at once, each named as the operator typed it.
    const problems = parsed.error.issues.map((i) => {
      const field = String(i.path[0] ?? '');
      const label = OPTION_FOR_FIELD[field] ?? field;
      const value = (raw as Record<string, unknown>)[field];
      if (field === 'requestedBy' && value === undefined) return '--by: not given, and neither $USER nor the OS user name is known; pass --by <your login>';
      const hint = field === 'requestedBy' && fallback ? ` (taken from ${fallback.source}; pass --by <your login>)` : '';
      return `${label}: ${typeof value === 'string' ? `${showValue(value)} ` : ''}${i.message}${hint}`;
    });
    throw usageError(`${problems.join('; ')} (see deployctl ${command} --help)`);
  }
  return parsed.data;
}

/** Loads the spec locally (the same zod schema the worker's plan uses) and checks the environment exists. */
export async function loadSpecForEnvironment(specPath: string, environment: string, cwd: string): Promise<DeploySpec> {
  let spec: DeploySpec;
  try {
    spec = (await loadSpec(specPath, cwd)).spec;
  } catch (err) {
    throw usageError(`<spec>: ${firstLine(err).replace(/give a path relative to the worker's spec root \(DEPLOY_SPEC_ROOT, default its working directory\)/, `give a path to the spec file (relative to ${cwd})`)}`);
  }
  if (!spec.environments[environment]) {
    throw usageError(`--env: "${environment}" is not an environment of ${spec.service} in ${specPath}; choose one of: ${Object.keys(spec.environments).join(', ')}`);
  }
  return spec;
}

/** Gates the plan will hold, as resolvePlan decides them (production is gated by default). */
export function gatesOf(spec: DeploySpec, input: DeployInput) {
  return resolvePlan({ spec, specSource: String(input.spec), specSha256: '', input, cwd: '/', dataDir: '.', live: null, previouslyLive: false }).gates;
}

/**
 * A deploy request to an environment with a signed gate must be signed by its requester (the plan refuses
 * it otherwise): signs it with `key`, so the input gains requestedAt and signature. Without a key there,
 * exits 2 before anything starts, saying how to sign.
 */
export async function signRequestIfNeeded(ctx: CliContext, input: DeployInput, spec: DeploySpec, key: string | undefined, command: string): Promise<DeployInput> {
  const signedGate = gatesOf(spec, input).find((g) => g.signed);
  if (!signedGate) {
    if (key) ctx.io.err(`note: ${input.environment} has no signed gate, so the request needs no signature; --key was not used`);
    return input;
  }
  if (typeof input.spec !== 'string') throw usageError('<spec>: a signed request names its spec by path, not inline');
  if (!key) {
    throw usageError(
      `--key: ${input.environment} has a signed approval gate (before ${signedGate.before}), so the deploy request must be signed by ${input.requestedBy}'s key in the spec's trust.allowedSigners. ` +
        `Pass --key <your private key> (or its .pub when the key is loaded in ssh-agent). To sign elsewhere: deployctl statement ${spec.service} --env ${input.environment} --request ` +
        `--version ${input.version} --by ${input.requestedBy} --spec ${input.spec} (see deployctl ${command} --help)`,
    );
  }
  const workflowId = deployWorkflowId(spec.service, input.environment);
  let statement: string;
  let requestedAt: string;
  let what: string;
  try {
    ({ statement, requestedAt } = deployRequestStatement({ ...input, spec: input.spec }, workflowId, spec.service));
    what = describeRequestStatement({ workflowId, service: spec.service, environment: input.environment, version: input.version, spec: input.spec, requestedBy: input.requestedBy, requestedAt });
  } catch (err) {
    throw usageError(`the request cannot be signed: ${firstLine(err)}`);
  }
  const signature = await signWithKey(ctx, { statement, keyFile: key, what });
  return { ...input, requestedAt, signature };
}

/** `temporal workflow start` of exactly this input (the contract's form), for `--print`. */
export function printStart(ctx: CliContext, input: DeployInput, spec: DeploySpec): number {
  const workflowId = deployWorkflowId(spec.service, input.environment);
  const printed = temporalCommand(ctx, ['workflow', 'start'], ['--task-queue', ctx.config.DEPLOY_TASK_QUEUE, '--type', WORKFLOW_TYPE, '--workflow-id', workflowId, '--input', JSON.stringify(input)]);
  printCommand(ctx, printed, { workflowId, input });
  if (input.requestedAt && !ctx.json) {
    const until = formatTime(new Date(Date.parse(input.requestedAt) + REQUEST_MAX_AGE_MS));
    ctx.io.err(`the signed request is accepted until ${until} (${REQUEST_MAX_AGE_MS / 60_000} minutes after signing); sign again after that`);
  }
  return ExitCode.ok;
}

/** Starts the deploy and prints how to watch it; `--follow` turns this into a live view with an outcome exit code. */
export async function startAndReport(ctx: CliContext, input: DeployInput, spec: DeploySpec, o: { follow: boolean; cwd: string; verb: string; extra?: Record<string, unknown> }): Promise<number> {
  const client = await ctx.temporal();
  let handle;
  try {
    handle = await startDeploy(client, input, { taskQueue: ctx.config.DEPLOY_TASK_QUEUE, cwd: o.cwd });
  } catch (err) {
    if (err instanceof DeployAlreadyRunning) {
      const link = err.runId ? ` Web UI: ${ctx.uiLink(err.workflowId, err.runId)}` : '';
      throw new CliError(
        `${err.holder} of ${spec.service} in ${input.environment} is already running as ${err.workflowId}${err.runId ? ` (run ${err.runId})` : ''}; one deploy per service and environment at a time. ` +
          `Follow it with: deployctl status ${spec.service} --env ${input.environment}, or cancel it with: temporal workflow cancel --workflow-id ${err.workflowId}.${link}`,
        ExitCode.alreadyRunning,
      );
    }
    throw new CliError(`could not start the deploy: ${firstLine(err)}`, ExitCode.error);
  }
  const workflowId = deployWorkflowId(spec.service, input.environment);
  // startDeploy returns the handle of client.workflow.start, which carries the run it started.
  const runId = (handle as WorkflowHandleWithFirstExecutionRunId).firstExecutionRunId ?? (await handle.describe()).runId;
  const uiUrl = ctx.uiLink(workflowId, runId);
  const gates = gatesOf(spec, input);
  if (!ctx.json) {
    ctx.io.out(`${o.verb} ${spec.service} ${input.version} → ${input.environment}, requested by ${input.requestedBy}`);
    ctx.io.out(`  workflow ID: ${workflowId}`);
    ctx.io.out(`  run ID:      ${runId}`);
    ctx.io.out(`  Web UI:      ${uiUrl}`);
    for (const g of gates) {
      const who = g.approvers.length ? g.approvers.join(' or ') : 'an approver other than the requester';
      ctx.io.out(`  approval gate before ${g.before}: ${g.quorum} from ${who} — deployctl approve ${spec.service} --env ${input.environment} --by <approver>`);
    }
    if (!o.follow) ctx.io.out(`  watch it:    deployctl status ${spec.service} --env ${input.environment}`);
  }
  const base = { workflowId, runId, uiUrl, input, gates, ...o.extra };
  if (!o.follow) {
    if (ctx.json) ctx.io.out(JSON.stringify(base));
    return ExitCode.ok;
  }
  const followed = await followDeploy(ctx, handle, { startedAt: new Date(), service: spec.service, environment: input.environment, runId });
  if (ctx.json) {
    ctx.io.out(
      JSON.stringify({
        ...base,
        exitCode: followed.exitCode,
        outcome: followed.outcome?.outcome ?? followed.last?.status,
        reason: followed.outcome?.reason,
        result: followed.outcome?.result,
        status: followed.outcome ? undefined : followed.last,
        interrupted: followed.interrupted || undefined,
      }),
    );
  }
  return followed.exitCode;
}

interface DeployRequest {
  input: DeployInput;
  follow: boolean;
  key?: string;
  print?: boolean;
}

/**
 * The spec path as the worker will read it. With DEPLOY_SPEC_ROOT set (the worker's setting, shared), the path
 * is checked against that root here (symlinks followed) and sent relative to it, which is how the worker
 * resolves it; without it, the worker reads from its working directory, like this command from its own.
 */
export async function specAgainstRoot(given: string, cwd: string, specRoot: string | undefined): Promise<{ specPath: string; base: string }> {
  if (!specRoot) return { specPath: given, base: cwd };
  const root = await fs.realpath(path.resolve(cwd, specRoot)).catch(() => path.resolve(cwd, specRoot));
  const real = await realpathOfNearest(path.resolve(cwd, given));
  if (!isInside(real, root)) {
    throw usageError(`<spec>: ${given} resolves to ${real}, outside the spec root ${root} (DEPLOY_SPEC_ROOT): the worker would refuse it; use a spec under the root`);
  }
  return { specPath: path.relative(root, real), base: root };
}

const deploySpec = (cwd: string): CommandSpec<DeployRequest> => ({
  parse([spec], opts, p) {
    if (opts.print && opts.follow) throw usageError('--print and --follow: --print only prints the command, there is nothing to follow (see deployctl deploy --help)');
    return {
      input: parseDeployRequest({ spec: spec!, env: opts.env, version: opts.version, by: opts.by, reason: opts.reason }, p, 'deploy'),
      follow: Boolean(opts.follow),
      key: checkKeyFile(opts.key, p.cwd, 'deploy'),
      ...(opts.print ? { print: true } : {}),
    };
  },
  async execute(ctx, r) {
    const { specPath, base } = await specAgainstRoot(r.input.spec as string, cwd, ctx.config.DEPLOY_SPEC_ROOT);
    const spec = await loadSpecForEnvironment(specPath, r.input.environment, base);
    const input = await signRequestIfNeeded(ctx, { ...r.input, spec: specPath }, spec, r.key, 'deploy');
    if (r.print) return printStart(ctx, input, spec);
    return startAndReport(ctx, input, spec, { follow: r.follow, cwd: base, verb: 'started deploy of' });
  },
});

export function registerDeploy(cmd: Command, p: ProgramOptions): Command {
  cmd
    .description('start a deploy of one version of a service to one environment (the workflow deployRelease)')
    .argument('<spec>', 'the deploy spec (YAML/JSON); the worker resolves a relative path against ITS working directory')
    .requiredOption('--env <environment>', 'environment in the spec, e.g. staging')
    .requiredOption('--version <version>', 'the release: a git tag or commit of the service source, e.g. 1.1.0')
    .option('--by <name>', 'who requests it, recorded as requestedBy (default: $USER, then the OS user name)')
    .option('--reason <text>', 'free text kept with the deploy (why this release)')
    .option('--key <file>', 'your SSH private key (or its .pub when the key is in ssh-agent): signs the request; required for an environment with a signed gate')
    .option('--follow', 'show live progress and exit with a code for the outcome')
    .option('--print', 'print the `temporal workflow start` command (signed with --key where needed) instead of starting')
    .addHelpText(
      'after',
      `
The input is checked locally with the workflow's own schemas before anything starts. Only one deploy per
service and environment runs at a time (workflow ID deploy-<service>-<environment>); starting a second exits 3.

An environment whose gate is signed (production in the example) takes only requests signed by the
requester: with --key the input gains requestedAt (now) and signature, by ssh-keygen -Y sign -n deploy over
the request statement (deployctl statement --request prints it). The worker refuses a request signed more
than ${REQUEST_MAX_AGE_MS / 60_000} minutes before the deploy starts. Without --key there: exit 2; a key that cannot sign: exit 7.

Examples:
  deployctl deploy examples/hello-service/deploy.yaml --env staging --version 1.1.0 --follow
  deployctl deploy examples/hello-service/deploy.yaml --env production --version 1.1.0 --by carol --key ~/.ssh/id_ed25519 --reason "greeting locales"
  deployctl deploy examples/hello-service/deploy.yaml --env production --version 1.1.0 --by carol --key .data/keys/carol --print`,
    );
  return bindAction(cmd, deploySpec(p.cwd), p);
}

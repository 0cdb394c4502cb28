import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { Command } from 'commander';
import { DeployAlreadyRunning, startDeploy } from '../../client/deploys';
import { deployWorkflowId } from '../../names';
import { loadSpec, resolvePlan } from '../../spec/load';
import { deployInputSchema, type DeployInput, type DeploySpec } from '../../spec/schema';
import type { CliContext } from '../context';
import { firstLine } from '../context';
import { CliError, usageError } from '../errors';
import { ExitCode } from '../exit-codes';
import { followDeploy } from '../follow';
import { bindAction, type CommandSpec, type ProgramOptions } from '../program';
import { defaultPerson, showValue } from '../validate';

const OPTION_FOR_FIELD: Record<string, string> = { spec: '<spec>', environment: '--env', version: '--version', requestedBy: '--by', reason: '--reason' };

/** Validates a deploy request with the workflow's own input schema; messages name the CLI option. */
export function parseDeployRequest(
  o: { spec: string; env: unknown; version: unknown; by: unknown; reason: unknown },
  p: ProgramOptions,
  command: string,
): DeployInput {
  const requestedBy = o.by ?? defaultPerson(p.env);
  const raw = { spec: o.spec, environment: o.env, version: o.version, requestedBy, ...(o.reason !== undefined ? { reason: o.reason } : {}) };
  const parsed = deployInputSchema.safeParse(raw);
  if (!parsed.success) {
    // Every bad option at once, each named as the operator typed it.
    const problems = parsed.error.issues.map((i) => {
      const field = String(i.path[0] ?? '');
      const label = OPTION_FOR_FIELD[field] ?? field;
      const value = (raw as Record<string, unknown>)[field];
      if (field === 'requestedBy' && value === undefined) return '--by: not given and $USER is not set; pass --by <your login>';
      const hint = field === 'requestedBy' && o.by === undefined ? ' (taken from $USER; pass --by <your login>)' : '';
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
    throw usageError(`<spec>: ${firstLine(err).replace(/give a path relative to the worker's working directory/, `give a path to the spec file (relative to ${cwd})`)}`);
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
        `a deploy of ${spec.service} to ${input.environment} is already running as ${err.workflowId}${err.runId ? ` (run ${err.runId})` : ''}; one deploy per service and environment at a time. ` +
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
}

const deploySpec = (cwd: string): CommandSpec<DeployRequest> => ({
  parse([spec], opts, p) {
    return { input: parseDeployRequest({ spec: spec!, env: opts.env, version: opts.version, by: opts.by, reason: opts.reason }, p, 'deploy'), follow: Boolean(opts.follow) };
  },
  async execute(ctx, r) {
    const spec = await loadSpecForEnvironment(r.input.spec as string, r.input.environment, cwd);
    return startAndReport(ctx, r.input, spec, { follow: r.follow, cwd, verb: 'started deploy of' });
  },
});

export function registerDeploy(cmd: Command, p: ProgramOptions): Command {
  cmd
    .description('start a deploy of one version of a service to one environment (the workflow deployRelease)')
    .argument('<spec>', 'the deploy spec (YAML/JSON); the worker resolves a relative path against ITS working directory')
    .requiredOption('--env <environment>', 'environment in the spec, e.g. staging')
    .requiredOption('--version <version>', 'the release: a git tag or commit of the service source, e.g. 1.1.0')
    .option('--by <name>', 'who requests it, recorded as requestedBy (default: $USER)')
    .option('--reason <text>', 'free text kept with the deploy (why this release)')
    .option('--follow', 'show live progress and exit with a code for the outcome')
    .addHelpText(
      'after',
      `
The input is checked locally with the workflow's own schemas before anything starts. Only one deploy per
service and environment runs at a time (workflow ID deploy-<service>-<environment>); starting a second exits 3.

Examples:
  deployctl deploy examples/hello-service/deploy.yaml --env staging --version 1.1.0 --follow
  deployctl deploy examples/hello-service/deploy.yaml --env production --version 1.1.0 --by carol --reason "greeting locales"`,
    );
  return bindAction(cmd, deploySpec(p.cwd), p);
}

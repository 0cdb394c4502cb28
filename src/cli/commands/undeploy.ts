import type { Command } from 'commander';
import { REQUEST_MAX_AGE_MS } from '../../activities/plan';
import { DeployAlreadyRunning } from '../../client/deploys';
import { stopRequestStatement } from '../../client/signing';
import { describeUndeploy, startUndeploy } from '../../client/undeploys';
import { deployWorkflowId } from '../../names';
import type { DeploySpec } from '../../spec/schema';
import type { UndeployInput } from '../../spec/undeploy-input';
import { describeStopRequestStatement } from '../../trust/statement';
import { UNDEPLOY_WORKFLOW_TYPE, type UndeployAction } from '../../workflows/undeploy-types';
import type { CliContext } from '../context';
import { firstLine } from '../context';
import { CliError, usageError } from '../errors';
import { ExitCode } from '../exit-codes';
import { followDeploy } from '../follow';
import { formatTime } from '../format';
import { bindAction, type CommandSpec, type ProgramOptions } from '../program';
import { printCommand, signWithKey, temporalCommand } from '../signing';
import { checkEnvironment, checkFreeText, checkKeyFile, checkPersonOrDefault, checkService } from '../validate';
import { gatesOf, loadSpecForEnvironment, specAgainstRoot } from './deploy';

interface UndeployRequest {
  action: UndeployAction;
  service: string;
  environment: string;
  spec: string;
  by: string;
  reason: string;
  key?: string;
  print?: boolean;
  wait: boolean;
}

/**
 * `deployctl stop` and `deployctl undeploy`: start the undeployService workflow under the deploy lock's ID
 * (so it is refused while a deploy runs, exit 3), signed where a deploy request must be, and follow it to
 * its end with progress and an outcome exit code.
 */
async function undeploy(ctx: CliContext, r: UndeployRequest, cwd: string): Promise<number> {
  const { specPath, base } = await specAgainstRoot(r.spec, cwd, ctx.config.DEPLOY_SPEC_ROOT);
  const spec = await loadSpecForEnvironment(specPath, r.environment, base);
  if (spec.service !== r.service) throw usageError(`--spec: ${r.spec} describes ${spec.service}, not ${r.service}; give the spec of ${r.service} (see deployctl ${r.action} --help)`);
  const input = await signIfNeeded(ctx, { spec: specPath, environment: r.environment, action: r.action, requestedBy: r.by, reason: r.reason }, spec, r.key, r.action);
  const workflowId = deployWorkflowId(spec.service, r.environment);
  if (r.print) {
    const printed = temporalCommand(ctx, ['workflow', 'start'], ['--task-queue', ctx.config.DEPLOY_TASK_QUEUE, '--type', UNDEPLOY_WORKFLOW_TYPE, '--workflow-id', workflowId, '--input', JSON.stringify(input)]);
    printCommand(ctx, printed, { workflowId, input });
    if (input.requestedAt && !ctx.json) ctx.io.err(`the signed request is accepted until ${formatTime(new Date(Date.parse(input.requestedAt) + REQUEST_MAX_AGE_MS))}; sign again after that`);
    return ExitCode.ok;
  }

  const what = describeUndeploy(input, spec.service);
  let handle;
  try {
    handle = await startUndeploy(await ctx.temporal(), input, { taskQueue: ctx.config.DEPLOY_TASK_QUEUE, cwd: base });
  } catch (err) {
    if (err instanceof DeployAlreadyRunning) {
      throw new CliError(
        `cannot ${what}: ${err.holder} of ${spec.service} in ${r.environment} is running as ${err.workflowId}${err.runId ? ` (run ${err.runId})` : ''}, and ${r.action === 'stop' ? 'a stop' : 'an undeploy'} never runs beside it (they share the lock). ` +
          `Nothing was stopped. Let it finish (deployctl status ${spec.service} --env ${r.environment}) or cancel it (temporal workflow cancel --workflow-id ${err.workflowId}), then run this again.`,
        ExitCode.alreadyRunning,
      );
    }
    throw new CliError(`could not start the ${r.action}: ${firstLine(err)}`, ExitCode.error);
  }
  const runId = (handle as { firstExecutionRunId?: string }).firstExecutionRunId ?? (await handle.describe()).runId;
  const uiUrl = ctx.uiLink(workflowId, runId);
  if (!ctx.json) {
    ctx.io.out(`started: ${what}${r.action === 'stop' ? ' (current kept)' : ''}, requested by ${input.requestedBy}: ${input.reason}`);
    ctx.io.out(`  workflow ID: ${workflowId} (type ${UNDEPLOY_WORKFLOW_TYPE}, the deploy lock)`);
    ctx.io.out(`  run ID:      ${runId}`);
    ctx.io.out(`  Web UI:      ${uiUrl}`);
    if (!r.wait) ctx.io.out(`  watch it:    deployctl status ${spec.service} --env ${r.environment}`);
  }
  const base2 = { workflowId, runId, uiUrl, input };
  if (!r.wait) {
    if (ctx.json) ctx.io.out(JSON.stringify(base2));
    return ExitCode.ok;
  }
  const followed = await followDeploy(ctx, handle, { startedAt: new Date(), service: spec.service, environment: r.environment, runId });
  if (ctx.json) {
    ctx.io.out(JSON.stringify({ ...base2, exitCode: followed.exitCode, outcome: followed.outcome?.outcome, reason: followed.outcome?.reason, result: followed.outcome?.result, interrupted: followed.interrupted || undefined }));
  }
  return followed.exitCode;
}

/**
 * Where a deploy request must be signed (an environment with a signed gate), so must a stop: signs the
 * stop request statement with `key`; without one there, exits 2 before anything starts, saying how.
 */
async function signIfNeeded(ctx: CliContext, input: UndeployInput & { spec: string }, spec: DeploySpec, key: string | undefined, command: string): Promise<UndeployInput> {
  const signedGate = gatesOf(spec, { spec: input.spec, environment: input.environment, version: 'none', requestedBy: input.requestedBy }).find((g) => g.signed);
  if (!signedGate) {
    if (key) ctx.io.err(`note: ${input.environment} has no signed gate, so the request needs no signature; --key was not used`);
    return input;
  }
  if (!key) {
    throw usageError(
      `--key: ${input.environment} has a signed approval gate (before ${signedGate.before}), so ${input.action === 'stop' ? 'a stop' : 'an undeploy'} request must be signed by ${input.requestedBy}'s key in the spec's trust.allowedSigners, as a deploy request is. ` +
        `Pass --key <your private key> (or its .pub when the key is loaded in ssh-agent) (see deployctl ${command} --help)`,
    );
  }
  const workflowId = deployWorkflowId(spec.service, input.environment);
  const fields = { workflowId, service: spec.service, environment: input.environment, action: input.action, spec: input.spec, requestedBy: input.requestedBy };
  let statement: string;
  let requestedAt: string;
  let what: string;
  try {
    ({ statement, requestedAt } = stopRequestStatement(fields));
    what = describeStopRequestStatement({ ...fields, requestedAt });
  } catch (err) {
    throw usageError(`the request cannot be signed: ${firstLine(err)}`);
  }
  const signature = await signWithKey(ctx, { statement, keyFile: key, what });
  return { ...input, requestedAt, signature };
}

const undeploySpec = (action: UndeployAction, cwd: string): CommandSpec<UndeployRequest> => ({
  parse([service], opts, p) {
    if (typeof opts.spec !== 'string' || !/\.(ya?ml|json)$/.test(opts.spec)) throw usageError(`--spec: ${JSON.stringify(opts.spec)} must be a .yaml, .yml or .json spec file (see deployctl ${action} --help)`);
    if (opts.print && opts.wait === false) throw usageError(`--print and --no-wait: --print only prints the command, nothing starts (see deployctl ${action} --help)`);
    const reason = checkFreeText(opts.reason, '--reason', action);
    if (reason === undefined || reason.trim() === '') throw usageError(`--reason: say why (it is kept with the ${action} in its history and the release registry) (see deployctl ${action} --help)`);
    return {
      action,
      service: checkService(service, action),
      environment: checkEnvironment(opts.env, action),
      spec: opts.spec,
      by: checkPersonOrDefault(opts.by, p.env, action),
      reason,
      key: checkKeyFile(opts.key, p.cwd, action),
      ...(opts.print ? { print: true } : {}),
      wait: opts.wait !== false,
    };
  },
  execute: (ctx, r) => undeploy(ctx, r, cwd),
});

export function registerUndeploy(cmd: Command, action: UndeployAction, p: ProgramOptions): Command {
  cmd
    .description(
      action === 'stop'
        ? "stop a service's process in one environment and keep its release current (a later deploy of the same version starts it again)"
        : 'undeploy a service from one environment: stop its process, remove its current release, and record that nothing is live there',
    )
    .argument('<service>', 'service name from the spec, e.g. hello-service')
    .requiredOption('--env <environment>', 'environment, e.g. staging')
    .requiredOption('--spec <path>', 'the service deploy spec (as for deploy); the worker plans from it, under its spec root')
    .requiredOption('--reason <text>', 'why; kept in the workflow history and the release registry')
    .option('--by <name>', 'who asks, recorded as requestedBy (default: $USER, then the OS user name)')
    .option('--key <file>', 'your SSH private key (or its .pub when the key is in ssh-agent): signs the request; required where a deploy request must be signed')
    .option('--print', 'print the `temporal workflow start` command (signed with --key where needed) instead of starting')
    .option('--no-wait', 'return once started instead of following it to the end');
  cmd.addHelpText(
    'after',
    `
${
  action === 'stop'
    ? `The release's process gets SIGTERM (its whole process group), then SIGKILL after target.stopTimeoutMs.
\`current\` still names the release and the release registry keeps it live, marked stopped: a later
\`deployctl deploy\` of the same version starts it again (a redeploy), and a deploy of another version
replaces it without requiring it to run. A command target has no stop of its own: use undeploy there.`
    : `The release's process gets SIGTERM (its whole process group), then SIGKILL after target.stopTimeoutMs;
\`current\` is removed and the release registry records that nothing is live, so the next deploy is a
first deploy. Release directories, logs, artifacts and applied migrations stay. A command target runs its
rollback command with an empty {version}.`
}

It runs as the workflow ${UNDEPLOY_WORKFLOW_TYPE} under the deploy lock's ID (deploy-<service>-<environment>):
it is refused (exit 3) while a deploy of the service in that environment runs, and no deploy starts while it
runs. Who asked and why are in its history (Web UI, deployctl status) and in the registry. Where a deploy
request must be signed (an environment with a signed gate, like production in the example), so must this:
--key signs a "stop request" statement over the action, service, environment, spec and time.

Without --no-wait it follows the run and exits with its outcome: 0 done, 12 failed (or refused at plan),
13 cancelled.

Examples:
  deployctl ${action} hello-service --env staging --spec examples/hello-service/deploy.yaml --reason "${action === 'stop' ? 'load test paused' : 'service retired'}"
  deployctl ${action} hello-service --env production --spec examples/hello-service/deploy.yaml --by carol --key .data/keys/carol --reason "incident 42"
  deployctl ${action} hello-service --env production --spec examples/hello-service/deploy.yaml --by carol --key .data/keys/carol --reason "incident 42" --print`,
  );
  return bindAction(cmd, undeploySpec(action, p.cwd), p);
}

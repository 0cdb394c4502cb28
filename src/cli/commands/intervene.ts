import { Option, type Command } from 'commander';
import { interveneSignal } from '../../workflows/definitions';
import type { CliContext } from '../context';
import { attr, describeDeploy, isRunning, queryStatus } from '../deploy-state';
import { CliError, usageError } from '../errors';
import { ExitCode } from '../exit-codes';
import { oneLine } from '../format';
import { bindAction, type CommandSpec, type ProgramOptions } from '../program';
import { checkEnvironment, checkFreeText, checkPerson, checkService } from '../validate';

const ACTIONS = ['retry', 'skip', 'abort'] as const;
type Action = (typeof ACTIONS)[number];

interface InterveneRequest {
  service: string;
  environment: string;
  by: string;
  action: Action;
  comment?: string;
}

/**
 * `intervene` is a signal (the contract's name), which cannot answer. So deployctl checks first that the
 * deploy waits for an intervention, and afterwards reads the timeline to show that the decision landed.
 */
async function intervene(ctx: CliContext, r: InterveneRequest): Promise<number> {
  const { handle, description } = await describeDeploy(ctx, r.service, r.environment);
  if (!isRunning(description)) {
    throw new CliError(`no deploy of ${r.service} to ${r.environment} is running (the last one ended ${attr(description, 'status') ?? description.status.name.toLowerCase()}); nothing to intervene in`, ExitCode.notFound);
  }
  const before = await queryStatus(ctx, handle);
  if (!before) throw new CliError(`the deploy did not answer its status query: is a worker polling task queue "${ctx.config.DEPLOY_TASK_QUEUE}"?`, ExitCode.unreachable);
  if (!before.pendingIntervention) {
    throw new CliError(
      `the deploy is not waiting for an intervention (status ${before.status}, stage ${before.stage}); intervene only answers needs_intervention. See: deployctl status ${r.service} --env ${r.environment}`,
      ExitCode.refused,
    );
  }
  await handle.signal(interveneSignal, { by: r.by, action: r.action, ...(r.comment !== undefined ? { comment: r.comment } : {}) });
  const expected = `${r.action} by ${r.by}`;
  let landed: string | undefined;
  let refused: string | undefined;
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && !landed && !refused) {
    const now = await queryStatus(ctx, handle, 5_000);
    const fresh = now?.timeline.slice(before.timeline.length) ?? [];
    landed = fresh.find((e) => e.kind === 'intervention' && e.event === expected)?.event;
    const ref = fresh.find((e) => e.kind === 'signal_refused' && e.event.startsWith('intervene'));
    refused = ref ? `${ref.event}: ${ref.detail ?? ''}` : undefined;
    if (!landed && !refused) await new Promise((res) => setTimeout(res, 300));
  }
  if (refused) throw new CliError(`intervention refused by the deploy: ${oneLine(refused)}`, ExitCode.refused);
  if (ctx.json) {
    ctx.io.out(JSON.stringify({ workflowId: handle.workflowId, runId: description.runId, action: r.action, by: r.by, acknowledged: Boolean(landed) }));
  } else {
    ctx.io.out(
      landed
        ? `${r.action} by ${r.by} accepted for ${before.pendingIntervention.compensation}`
        : `signal sent; the deploy has not recorded it yet. Check: deployctl status ${r.service} --env ${r.environment}`,
    );
    const next: Record<Action, string> = {
      retry: `the failed ${before.pendingIntervention.compensation} runs again`,
      skip: `${before.pendingIntervention.compensation} is skipped: the environment may still run the new release — check it yourself`,
      abort: 'the deploy ends as failed with the rollback incomplete — fix the environment by hand',
    };
    ctx.io.out(`${next[r.action]}; follow: deployctl status ${r.service} --env ${r.environment}`);
  }
  return ExitCode.ok;
}

const interveneSpec: CommandSpec<InterveneRequest> = {
  parse([service], opts) {
    if (!ACTIONS.includes(opts.action as Action)) throw usageError(`--action: ${JSON.stringify(opts.action)} must be one of ${ACTIONS.join(', ')} (see deployctl intervene --help)`);
    return {
      service: checkService(service, 'intervene'),
      environment: checkEnvironment(opts.env, 'intervene'),
      by: checkPerson(opts.by, 'intervene'),
      action: opts.action as Action,
      comment: checkFreeText(opts.comment, '--comment', 'intervene'),
    };
  },
  execute: intervene,
};

export function registerIntervene(cmd: Command, p: ProgramOptions): Command {
  cmd
    .description('decide for a deploy in needs_intervention (a rollback step failed): retry, skip or abort it')
    .argument('<service>', 'service name from the spec')
    .requiredOption('--env <environment>', 'environment of the deploy')
    .requiredOption('--by <name>', 'who decides (recorded in the audit)')
    .addOption(new Option('--action <action>', 'retry the failed step, skip it, or abort the deploy').choices([...ACTIONS]).makeOptionMandatory())
    .option('--comment <text>', 'why; kept in the timeline')
    .addHelpText(
      'after',
      `
retry  run the failed compensation again (after fixing what made it fail)
skip   carry on without it (you restored the environment by hand)
abort  stop here: the deploy ends failed and the environment is left as it is

Exits 4 when the deploy is not waiting for an intervention.

Example:
  deployctl intervene hello-service --env staging --by alice --action retry --comment "disk freed"
  temporal workflow signal --workflow-id deploy-hello-service-staging --name intervene --input '{"by":"alice","action":"retry"}'`,
    );
  return bindAction(cmd, interveneSpec, p);
}

import { Option, type Command } from 'commander';
import { decisionStatementFor } from '../../client/signing';
import { describeDecisionStatement } from '../../trust/statement';
import { interveneSignal } from '../../workflows/definitions';
import type { DeployStatusView } from '../../workflows/types';
import type { CliContext } from '../context';
import { firstLine } from '../context';
import { attr, describeDeploy, isRunning, queryStatus } from '../deploy-state';
import { CliError, usageError } from '../errors';
import { ExitCode } from '../exit-codes';
import { oneLine } from '../format';
import { bindAction, type CommandSpec, type ProgramOptions } from '../program';
import { printCommand, signWithKey, temporalCommand } from '../signing';
import { checkEnvironment, checkFreeText, checkKeyFile, checkPersonOrDefault, checkService } from '../validate';

const ACTIONS = ['retry', 'skip', 'abort'] as const;
type Action = (typeof ACTIONS)[number];

interface InterveneRequest {
  service: string;
  environment: string;
  by: string;
  action: Action;
  comment?: string;
  key?: string;
  print?: boolean;
}

/**
 * `intervene` is a signal (the contract's name), which cannot answer. So deployctl checks first that the
 * deploy waits for an intervention (and that --by is one of its operators), signs the intervention when the
 * deploy requires it, and afterwards reads the timeline to show that the decision landed.
 */
async function intervene(ctx: CliContext, r: InterveneRequest): Promise<number> {
  const { handle: latest, description } = await describeDeploy(ctx, r.service, r.environment);
  if (!isRunning(description)) {
    throw new CliError(`no deploy of ${r.service} to ${r.environment} is running (the last one ended ${attr(description, 'status') ?? description.status.name.toLowerCase()}); nothing to intervene in`, ExitCode.notFound);
  }
  // Bound to the described run: a signature binds one run.
  const handle = (await ctx.temporal()).workflow.getHandle(latest.workflowId, description.runId);
  const before = await queryStatus(ctx, handle);
  if (!before) throw new CliError(`the deploy did not answer its status query: is a worker polling task queue "${ctx.config.DEPLOY_TASK_QUEUE}"?`, ExitCode.unreachable);
  if (!before.pendingIntervention) {
    throw new CliError(
      `the deploy is not waiting for an intervention (status ${oneLine(before.status, 40)}, stage ${oneLine(before.stage, 64)}); intervene only answers needs_intervention. See: deployctl status ${r.service} --env ${r.environment}`,
      ExitCode.refused,
    );
  }
  const pending = before.pendingIntervention;
  if (pending.operators?.length && !pending.operators.includes(r.by)) {
    throw new CliError(`intervention refused: ${r.by} is not an operator of ${r.environment} (allowed: ${pending.operators.map((o) => oneLine(o, 64)).join(', ')})`, ExitCode.refused);
  }
  const signature = await interventionSignature(ctx, r, pending);
  const input = { by: r.by, action: r.action, ...(r.comment !== undefined ? { comment: r.comment } : {}), ...(signature !== undefined ? { signature } : {}) };
  if (r.print) {
    const printed = temporalCommand(ctx, ['workflow', 'signal'], ['--workflow-id', handle.workflowId, '--name', 'intervene', '--input', JSON.stringify(input)]);
    printCommand(ctx, printed, { workflowId: handle.workflowId, runId: description.runId, action: r.action, by: r.by, input });
    if (!ctx.json) ctx.io.err(`a signal does not answer: check that it landed with deployctl status ${r.service} --env ${r.environment}`);
    return ExitCode.ok;
  }
  await handle.signal(interveneSignal, input);
  const expected = `${r.action} by ${r.by}`;
  let landed: string | undefined;
  let refused: string | undefined;
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && !landed && !refused) {
    const now = await queryStatus(ctx, handle, 5_000);
    const fresh = now?.timeline.slice(before.timeline.length) ?? [];
    // "retry by alice", or "retry by alice (signed, key SHA256:…)"
    landed = fresh.find((e) => e.kind === 'intervention' && (e.event === expected || e.event.startsWith(`${expected} (`)))?.event;
    const ref = fresh.find((e) => e.kind === 'signal_refused' && e.event.startsWith('intervene'));
    refused = ref ? `${ref.event}: ${ref.detail ?? ''}` : undefined;
    if (!landed && !refused) await new Promise((res) => setTimeout(res, 300));
  }
  if (refused) throw new CliError(`intervention refused by the deploy: ${oneLine(refused)}`, ExitCode.refused);
  if (ctx.json) {
    ctx.io.out(JSON.stringify({ workflowId: handle.workflowId, runId: description.runId, action: r.action, by: r.by, signed: signature !== undefined, acknowledged: Boolean(landed) }));
  } else {
    ctx.io.out(
      landed
        ? `${oneLine(landed)} accepted for ${oneLine(pending.compensation, 64)}`
        : `signal sent; the deploy has not recorded it yet. Check: deployctl status ${r.service} --env ${r.environment}`,
    );
    const next: Record<Action, string> = {
      retry: `the failed ${oneLine(pending.compensation, 64)} runs again`,
      skip: `${oneLine(pending.compensation, 64)} is skipped: the environment may still run the new release — check it yourself`,
      abort: 'the deploy ends as failed with the rollback incomplete — fix the environment by hand',
    };
    ctx.io.out(`${next[r.action]}; follow: deployctl status ${r.service} --env ${r.environment}`);
  }
  return ExitCode.ok;
}

/** The signature over this intervention's statement when the deploy requires one (read from the status query). */
async function interventionSignature(ctx: CliContext, r: InterveneRequest, pending: NonNullable<DeployStatusView['pendingIntervention']>): Promise<string | undefined> {
  if (!pending.signed) {
    if (r.key) ctx.io.err('note: this deploy does not require signed interventions; --key was not used');
    return undefined;
  }
  if (!pending.sign) throw new CliError('the intervention must be signed but the status query does not show what to sign; is the worker older than the workflow? Upgrade it', ExitCode.error);
  const decision = `intervene:${r.action}` as const;
  if (!r.key) {
    throw usageError(
      `--key: this deploy accepts only signed interventions: ${r.by}'s ${r.action} counts only with a signature by ${r.by}'s key in the spec's trust.allowedSigners. ` +
        `Pass --key <your private key> (or its .pub when the key is loaded in ssh-agent). To sign elsewhere: ` +
        `deployctl statement ${r.service} --env ${r.environment} --decision ${decision} --by ${r.by} (see deployctl intervene --help)`,
    );
  }
  let statement: string;
  let what: string;
  try {
    statement = decisionStatementFor(pending.sign, decision, r.by);
    what = describeDecisionStatement({ ...pending.sign, decision, signer: r.by });
  } catch (err) {
    throw new CliError(`cannot build the statement to sign from the deploy's status: ${firstLine(err)}`, ExitCode.error);
  }
  return signWithKey(ctx, { statement, keyFile: r.key, what });
}

const interveneSpec: CommandSpec<InterveneRequest> = {
  parse([service], opts, p) {
    if (!ACTIONS.includes(opts.action as Action)) throw usageError(`--action: ${JSON.stringify(opts.action)} must be one of ${ACTIONS.join(', ')} (see deployctl intervene --help)`);
    return {
      service: checkService(service, 'intervene'),
      environment: checkEnvironment(opts.env, 'intervene'),
      by: checkPersonOrDefault(opts.by, p.env, 'intervene'),
      action: opts.action as Action,
      comment: checkFreeText(opts.comment, '--comment', 'intervene'),
      key: checkKeyFile(opts.key, p.cwd, 'intervene'),
      ...(opts.print ? { print: true } : {}),
    };
  },
  execute: intervene,
};

export function registerIntervene(cmd: Command, p: ProgramOptions): Command {
  cmd
    .description('decide for a deploy in needs_intervention (a rollback step failed): retry, skip or abort it')
    .argument('<service>', 'service name from the spec')
    .requiredOption('--env <environment>', 'environment of the deploy')
    .option('--by <name>', 'who decides, an operator of the environment (default: $USER, then the OS user name)')
    .addOption(new Option('--action <action>', 'retry the failed step, skip it, or abort the deploy').choices([...ACTIONS]).makeOptionMandatory())
    .option('--comment <text>', 'why; kept in the timeline (not part of the signed statement)')
    .option('--key <file>', 'your SSH private key (or its .pub when the key is in ssh-agent); required when the deploy names operators')
    .option('--print', 'print the signed `temporal workflow signal … --name intervene` command instead of sending it')
    .addHelpText(
      'after',
      `
retry  run the failed compensation again (after fixing what made it fail)
skip   carry on without it (you restored the environment by hand)
abort  stop here: the deploy ends failed and the environment is left as it is

Where the environment names operators (or has gates, whose approvers are its operators), only they may
intervene, with a signature by their key over the intervention's statement (the failed compensation is its
stage, intervene:<action> its decision). deployctl reads the statement from the status query and signs it.

Exits 4 when the deploy is not waiting for an intervention or --by is not an operator (or the deploy
refused the signature), 2 without --key where one is required, 7 when the key cannot sign.

Example:
  deployctl intervene hello-service --env production --by alice --action retry --key ~/.ssh/id_ed25519 --comment "disk freed"
  deployctl intervene hello-service --env production --by alice --action retry --key ~/.ssh/id_ed25519 --print
  temporal workflow signal --workflow-id deploy-hello-service-production --name intervene --input '{"by":"alice","action":"retry","signature":"…"}'`,
    );
  return bindAction(cmd, interveneSpec, p);
}

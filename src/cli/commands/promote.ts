import type { Command } from 'commander';
import { decisionStatementFor } from '../../client/signing';
import { describeDecisionStatement } from '../../trust/statement';
import { promoteSignal, rejectSignal, statusQuery } from '../../workflows/definitions';
import type { DeployStatusView, PromotionState } from '../../workflows/types';
import type { CliContext } from '../context';
import { firstLine } from '../context';
import { attr, describeDeploy, isRunning, queryStatus } from '../deploy-state';
import { CliError, usageError } from '../errors';
import { ExitCode } from '../exit-codes';
import { oneLine, trafficLines } from '../format';
import { bindAction, type CommandSpec, type ProgramOptions } from '../program';
import { printCommand, signWithKey, temporalCommand } from '../signing';
import { checkEnvironment, checkFreeText, checkKeyFile, checkPersonOrDefault, checkService } from '../validate';

export interface PauseDecisionRequest {
  decision: 'promote' | 'reject';
  service: string;
  environment: string;
  by: string;
  comment?: string;
  key?: string;
  print?: boolean;
}

/**
 * Promote (or reject) a blueGreen or canary rollout paused for promote. Sent as the `promote` / `reject`
 * signal, signed over the pause's statement (its stage names the step: `deploy:step-3`, `deploy:switch`);
 * since a signal does not answer, the command then reads the deploy's status until the pause is over or
 * the deploy recorded why it refused the decision.
 */
export async function decideAtPause(ctx: CliContext, r: PauseDecisionRequest): Promise<number> {
  const { handle: latest, description } = await describeDeploy(ctx, r.service, r.environment);
  if (!isRunning(description)) {
    throw new CliError(
      `no deploy of ${r.service} to ${r.environment} is running: the last one (run ${description.runId}) ended ${attr(description, 'status') ?? description.status.name.toLowerCase()}; nothing to ${r.decision}`,
      ExitCode.notFound,
    );
  }
  const handle = (await ctx.temporal()).workflow.getHandle(latest.workflowId, description.runId);
  const refused = (reason: string): never => {
    if (ctx.json) ctx.io.out(JSON.stringify({ workflowId: handle.workflowId, runId: description.runId, decision: r.decision, by: r.by, accepted: false, reason }));
    throw new CliError(`${r.decision} refused: ${reason}`, ExitCode.refused);
  };
  const view = await queryStatus(ctx, handle);
  if (!view) throw new CliError(`the deploy did not answer its status query: is a worker polling task queue "${ctx.config.DEPLOY_TASK_QUEUE}"?`, ExitCode.unreachable);
  const pause = view.pendingPromotion;
  if (!pause) return refused(`no rollout is paused for promote in this deploy (status ${oneLine(view.status, 40)}, stage ${oneLine(view.stage, 64)})`);
  if (pause.promoters.length > 0 && !pause.promoters.includes(r.by)) {
    return refused(`${r.by} may not ${r.decision} this rollout (promoters: ${pause.promoters.map((a) => oneLine(a, 64)).join(', ')})`);
  }
  const signature = await signatureFor(ctx, r, pause);
  const input = {
    by: r.by,
    ...(r.comment !== undefined ? (r.decision === 'reject' ? { reason: r.comment } : { comment: r.comment }) : {}),
    ...(signature !== undefined ? { signature } : {}),
  };
  if (r.print) {
    const printed = temporalCommand(ctx, ['workflow', 'signal'], ['--workflow-id', handle.workflowId, '--name', r.decision, '--input', JSON.stringify(input)]);
    printCommand(ctx, printed, { workflowId: handle.workflowId, runId: description.runId, decision: r.decision, by: r.by, via: 'signal', input });
    return ExitCode.ok;
  }
  await handle.signal(r.decision === 'promote' ? promoteSignal : rejectSignal, input);
  const seenRefusals = view.timeline.filter((t) => t.kind === 'signal_refused').length;
  // A signal does not answer: the pause ends, or the deploy records why it refused the decision.
  const deadline = Date.now() + 15_000;
  let last: DeployStatusView | undefined;
  while (Date.now() < deadline) {
    last = await handle.query(statusQuery).catch(() => last);
    if (last) {
      const refusal = last.timeline.filter((t) => t.kind === 'signal_refused').slice(seenRefusals).find((t) => t.event.includes(r.by));
      if (refusal) return refused(oneLine(refusal.detail ?? refusal.event, 1000));
      if (last.pendingPromotion?.stage !== pause.stage) break;
    }
    await new Promise((res) => setTimeout(res, 200));
  }
  if (ctx.json) {
    ctx.io.out(JSON.stringify({ workflowId: handle.workflowId, runId: description.runId, decision: r.decision, by: r.by, accepted: true, signed: signature !== undefined, traffic: last?.traffic }));
    return ExitCode.ok;
  }
  ctx.io.out(`${r.decision === 'promote' ? 'promoted' : 'rejected'} ${r.service} → ${r.environment} at ${oneLine(pause.stage, 64)} as ${r.by}${signature ? ' (signed)' : ''}`);
  if (last?.traffic) for (const line of trafficLines(last.traffic)) ctx.io.out(line);
  ctx.io.out(`follow it: deployctl status ${r.service} --env ${r.environment}   Web UI: ${ctx.uiLink(handle.workflowId, description.runId)}`);
  return ExitCode.ok;
}

async function signatureFor(ctx: CliContext, r: PauseDecisionRequest, pause: PromotionState): Promise<string | undefined> {
  if (!pause.signed) return undefined;
  if (!pause.sign) throw new CliError('the pause is signed but the status query does not show what to sign; upgrade the worker', ExitCode.error);
  if (!r.key) {
    throw usageError(
      `--key: this rollout accepts only signed ${r.decision} decisions: pass --key <your private key> (or its .pub when the key is in ssh-agent); ` +
        `to sign elsewhere: deployctl statement ${r.service} --env ${r.environment} --decision ${r.decision} --by ${r.by}`,
    );
  }
  try {
    const statement = decisionStatementFor(pause.sign, r.decision, r.by);
    return await signWithKey(ctx, { statement, keyFile: r.key, what: describeDecisionStatement({ ...pause.sign, decision: r.decision, signer: r.by }) });
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot build the statement to sign from the deploy's status: ${firstLine(err)}`, ExitCode.error);
  }
}

const promoteSpec: CommandSpec<PauseDecisionRequest> = {
  parse([service], opts, p) {
    return {
      decision: 'promote',
      service: checkService(service, 'promote'),
      environment: checkEnvironment(opts.env, 'promote'),
      by: checkPersonOrDefault(opts.by, p.env, 'promote'),
      comment: checkFreeText(opts.comment, '--comment', 'promote'),
      key: checkKeyFile(opts.key, p.cwd, 'promote'),
      ...(opts.print ? { print: true } : {}),
    };
  },
  execute: decideAtPause,
};

export function registerPromote(cmd: Command, p: ProgramOptions): Command {
  cmd
    .description('promote a blueGreen or canary rollout paused for promote (the signed `promote` signal)')
    .argument('<service>', 'service name from the spec, e.g. hello-service')
    .requiredOption('--env <environment>', 'environment of the deploy, e.g. production')
    .option('--by <name>', 'who promotes: one of the strategy\'s promoters (default: $USER, then the OS user name)')
    .option('--key <file>', 'your SSH private key (or its .pub when the key is in ssh-agent); required when promotes are signed')
    .option('--comment <text>', 'kept in the timeline (not part of the signed statement)')
    .option('--print', 'print the signed `temporal workflow signal … --name promote` command instead of sending it')
    .addHelpText(
      'after',
      `
A paused rollout waits at one step: a canary \`pause: {}\` step or a blue/green \`pauseForPromote\` before the
switch (deployctl status shows the step, the weights and who may promote). The decision is signed over a
statement naming this run, version, artifact and the step (e.g. deploy:step-2), so it promotes that pause
only. To stop the rollout instead (all traffic back to the stable release): deployctl reject.

Refused (not a promoter, a bad signature, nothing paused): exit 4 with the reason.

Examples:
  deployctl promote hello-service --env production --by alice --key .data/keys/alice
  deployctl promote hello-service --env production --by alice --key .data/keys/alice --print
`,
    );
  return bindAction(cmd, promoteSpec, p);
}

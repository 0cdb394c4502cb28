import { deployWorkflowId } from '../names';
import { FailureType, refuse } from '../errors';
import { readConfigSource } from '../runtime-config';
import { loadSpec, resolvePlan } from '../spec/load';
import { parseUndeployInput, type UndeployInput } from '../spec/undeploy-input';
import { createTarget, type Target, type TargetStatus } from '../targets';
import { verifySignedStatement } from '../trust/sshsig';
import { renderStopRequestStatement, requestAgeProblem, SIGNATURE_NAMESPACE, StatementFieldError } from '../trust/statement';
import type { DeployInput } from '../spec/schema';
import type { LiveRelease } from '../workflows/types';
import type { StopStepResult, TargetSnapshot, UndeployPlan } from '../workflows/undeploy-types';
import { withHeartbeat, workerDataDir, type ActivityDeps } from './context';
import { confineHostPaths, readTrust, REQUEST_MAX_AGE_MS, workerRoots } from './plan';

/**
 * Plans a stop or undeploy the way a deploy is planned: the spec from the worker's spec root, the deploy
 * lock's ID, the environment's target and config source resolved as a deploy would, the host roots, and,
 * where the environment has a signed gate, a stop request signed by the requester.
 */
export function planUndeployActivity(deps: ActivityDeps) {
  const { specRoot, hostRoots, allowInline } = workerRoots(deps);

  return async function planUndeploy(args: { input: unknown; workflowId: string; runId: string }): Promise<UndeployPlan> {
    const input = parseUndeployInput(args.input);
    const { spec, source, sha256, file } = await loadSpec(input.spec as string | Record<string, unknown>, specRoot, { specRoot, allowInline });
    const expectedId = deployWorkflowId(spec.service, input.environment);
    if (args.workflowId !== expectedId) {
      throw refuse(
        FailureType.WrongWorkflowId,
        `workflow ID "${args.workflowId}" is not this service's deploy lock; start it with --workflow-id ${expectedId} (a stop or undeploy takes the same lock as a deploy, so it never runs beside one)`,
      );
    }
    const liveRow = await deps.registry.live(spec.service, input.environment);
    const live: LiveRelease | null = liveRow && liveRow.artifactSha256 !== null ? { version: liveRow.version, sha256: liveRow.artifactSha256, workflowId: liveRow.workflowId } : null;
    // The environment as a deploy resolves it (target, config source, gates); the version plays no part.
    const deployInput: DeployInput = { spec: input.spec, environment: input.environment, version: live?.version ?? 'none', requestedBy: input.requestedBy };
    const resolved = resolvePlan({ spec, specSource: source, specSha256: sha256, input: deployInput, cwd: deps.cwd, dataDir: deps.config.DEPLOY_DATA_DIR, live, previouslyLive: false });
    if (!file && resolved.gates.length > 0) {
      throw refuse(FailureType.InvalidInput, `input.spec: an inline spec cannot ${input.action} ${resolved.environment}, which has an approval gate; use a spec file under ${specRoot}`);
    }
    await confineHostPaths(resolved, hostRoots);
    if (input.action === 'stop' && !createTarget(resolved.target, { service: spec.service, environment: input.environment, dataDir: workerDataDir(deps) }).stop) {
      throw refuse(
        FailureType.InvalidInput,
        `environments.${input.environment}.target: a ${resolved.target.type} target cannot stop a service and keep it deployed (it has no stop of its own); undeploy it instead (deployctl undeploy), which runs its rollback command with an empty version`,
      );
    }
    const plan: UndeployPlan = {
      action: input.action,
      service: spec.service,
      environment: input.environment,
      requestedBy: input.requestedBy,
      reason: input.reason,
      spec: { source, sha256 },
      live,
      dataDir: resolved.dataDir,
      target: resolved.target,
      config: resolved.config.envFile ? { envFile: resolved.config.envFile } : {},
      heartbeatTimeoutMs: resolved.heartbeatTimeoutMs,
    };
    if (resolved.gates.some((g) => g.signed)) {
      if (!spec.trust) throw refuse(FailureType.SpecInvalid, "trust.allowedSigners: a signed gate needs the approvers' public keys");
      const trust = await readTrust(spec, file, specRoot);
      plan.request = verifyStopRequest(plan, input, args.workflowId, trust.allowedSigners);
    }
    return plan;
  };
}

/** Stopping a service where a deploy needs a signed request needs one too: by `requestedBy`, recent, for this action. */
function verifyStopRequest(
  plan: UndeployPlan,
  input: UndeployInput,
  workflowId: string,
  signers: Parameters<typeof verifySignedStatement>[0]['signers'],
): NonNullable<UndeployPlan['request']> {
  const how = `sign it with: npx deployctl ${plan.action} ${plan.service} --env ${plan.environment} --spec ${typeof input.spec === 'string' ? input.spec : '<spec>'} --by ${plan.requestedBy} --reason "…" --key <private key>`;
  if (!input.signature || !input.requestedAt) {
    throw refuse(FailureType.SignatureRefused, `input.signature: ${plan.environment} has a signed approval gate, so ${plan.action === 'stop' ? 'a stop' : 'an undeploy'} request must be signed by ${plan.requestedBy} (with requestedAt); ${how}`);
  }
  const stale = requestAgeProblem(input.requestedAt, Date.now(), { maxAgeMs: REQUEST_MAX_AGE_MS, maxFutureSkewMs: 2 * 60_000 });
  if (stale) throw refuse(FailureType.SignatureRefused, `input.requestedAt: ${stale}`);
  let statement: string;
  try {
    statement = renderStopRequestStatement({
      workflowId,
      service: plan.service,
      environment: plan.environment,
      action: plan.action,
      spec: String(input.spec),
      requestedBy: plan.requestedBy,
      requestedAt: input.requestedAt,
    });
  } catch (err) {
    if (err instanceof StatementFieldError) throw refuse(FailureType.SignatureRefused, `input: ${err.message}`);
    throw err;
  }
  const verdict = verifySignedStatement({ armored: input.signature, statement, namespace: SIGNATURE_NAMESPACE, principal: plan.requestedBy, signers, verifyTimeMs: Date.now() });
  if (!verdict.ok) throw refuse(FailureType.SignatureRefused, `input.signature: the ${plan.action} request is not signed by ${plan.requestedBy}: ${verdict.reason}`);
  return { signer: verdict.principal, fingerprint: verdict.fingerprint, requestedAt: input.requestedAt };
}

function snapshot(s: TargetStatus): TargetSnapshot {
  return { current: s.current, running: s.running, ...(s.pid !== undefined ? { pid: s.pid } : {}) };
}

/**
 * The stop step, through the target registry: `stop` stops the release's process and keeps `current`;
 * `undeploy` stops it and clears `current` (`rollback(null)`: on a command target, its rollback command with
 * an empty version). Then the registry records who asked and why, and for an undeploy that nothing is live.
 * Safe to run again: stopping a stopped service and clearing a cleared one change nothing.
 */
export function stopServiceActivity(deps: ActivityDeps) {
  return async function stopService(a: { plan: UndeployPlan; workflowId: string; runId: string }): Promise<StopStepResult> {
    const { plan } = a;
    return withHeartbeat(async (progress) => {
      // The running worker's data directory (a command target's work directory), as deploys use it.
      const target: Target = createTarget(plan.target, { service: plan.service, environment: plan.environment, dataDir: workerDataDir(deps), onProgress: progress });
      const before = snapshot(await target.status());
      const who = { service: plan.service, environment: plan.environment, requestedBy: plan.requestedBy, reason: plan.reason, workflowId: a.workflowId, runId: a.runId };
      let release: StopStepResult['release'];
      if (plan.action === 'stop') {
        if (!target.stop) throw refuse(FailureType.InvalidInput, `a ${plan.target.type} target cannot stop a service and keep it deployed; undeploy it instead`);
        await target.stop();
        release = await deps.registry.recordStop(who);
      } else {
        await target.rollback(null, await readConfigSource(plan.config.envFile));
        release = await deps.registry.markUndeployed(who);
      }
      const after = snapshot(await target.status());
      return { before, after, release };
    });
  };
}

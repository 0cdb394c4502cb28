import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { canonicalVersion, deployWorkflowId } from '../names';
import { FailureType, refuse } from '../errors';
import { confine } from '../spec/confine';
import { loadSpec, parseDeployInput, resolvePlan } from '../spec/load';
import type { DeploySpec } from '../spec/schema';
import { describeTarget } from '../targets';
import { AllowedSignersError, MAX_ALLOWED_SIGNERS_BYTES, parseAllowedSigners } from '../trust/allowed-signers';
import { verifySignedStatement } from '../trust/sshsig';
import { renderRequestStatement, requestAgeProblem, SIGNATURE_NAMESPACE, StatementFieldError } from '../trust/statement';
import type { DeployPlan } from '../workflows/types';
import type { ActivityDeps } from './context';

/** How old a signed deploy request may be when its plan runs (bounds how long a captured request could be replayed). */
export const REQUEST_MAX_AGE_MS = 15 * 60_000;

/**
 * Loads and validates the spec and input, enforces the deploy lock's ID and the worker's trust rules (spec
 * root, host roots, inline specs, signed requests), reads the approvers' public keys, and resolves the plan.
 * It reads no artifacts.
 */
export function planActivity(deps: Pick<ActivityDeps, 'config' | 'registry' | 'cwd'>) {
  const { specRoot, hostRoots, allowInline } = workerRoots(deps);

  return async function plan(args: { input: unknown; workflowId: string; runId: string }): Promise<DeployPlan> {
    const input = parseDeployInput(args.input);
    // A relative spec path is read from the spec root (the working directory unless DEPLOY_SPEC_ROOT says otherwise).
    const { spec, source, sha256, file } = await loadSpec(input.spec as string | Record<string, unknown>, specRoot, { specRoot, allowInline });
    const expectedId = deployWorkflowId(spec.service, input.environment);
    if (args.workflowId !== expectedId) {
      throw refuse(
        FailureType.WrongWorkflowId,
        `workflow ID "${args.workflowId}" is not this deploy's lock; start it with --workflow-id ${expectedId} (one deploy per service and environment at a time)`,
      );
    }
    const others = await deps.registry.otherPairsOfWorkflowId(expectedId, spec.service, input.environment);
    if (others.length > 0) {
      throw refuse(
        FailureType.InvalidInput,
        `workflow ID ${expectedId} is already the deploy lock of ${others.map((o) => `service ${o.service} in environment ${o.environment}`).join(', ')}; service ${spec.service} in ${input.environment} would share its lock and its history. Rename the service or the environment so that deploy-<service>-<environment> differs`,
      );
    }
    const liveRow = await deps.registry.live(spec.service, input.environment);
    const stoppedAt = liveRow?.liveAt ? await deps.registry.stoppedSince(spec.service, input.environment, liveRow.liveAt) : null;
    const live =
      liveRow && liveRow.artifactSha256 !== null
        ? { version: liveRow.version, sha256: liveRow.artifactSha256, workflowId: liveRow.workflowId, ...(stoppedAt ? { stoppedAt: stoppedAt.toISOString() } : {}) }
        : null;
    const previouslyLive = (await deps.registry.lastLiveOf(spec.service, input.environment, canonicalVersion(input.version))) !== null;
    const plan = resolvePlan({ spec, specSource: source, specSha256: sha256, input, cwd: deps.cwd, dataDir: deps.config.DEPLOY_DATA_DIR, live, previouslyLive });

    if (!file && plan.gates.length > 0) {
      throw refuse(FailureType.InvalidInput, `input.spec: an inline spec cannot deploy to ${plan.environment}, which has an approval gate; deploy from a spec file under ${specRoot}`);
    }
    await confineHostPaths(plan, hostRoots);
    if (spec.trust) plan.trust = await readTrust(spec, file, specRoot);

    if (plan.gates.some((g) => g.signed)) {
      plan.request = verifyRequest(plan, input, args.workflowId);
    }
    return plan;
  };
}

/** Where the worker reads specs from, which host paths a spec may name, and whether inline specs are accepted. */
export function workerRoots(deps: Pick<ActivityDeps, 'config' | 'cwd'>): { specRoot: string; hostRoots: string[]; allowInline: boolean } {
  const specRoot = path.resolve(deps.cwd, deps.config.DEPLOY_SPEC_ROOT ?? '.');
  const dataDir = path.resolve(deps.cwd, deps.config.DEPLOY_DATA_DIR);
  const hostRoots = deps.config.DEPLOY_HOST_ROOTS ? deps.config.DEPLOY_HOST_ROOTS.split(':').filter(Boolean).map((r) => path.resolve(deps.cwd, r)) : [specRoot, dataDir];
  return { specRoot, hostRoots, allowInline: deps.config.DEPLOY_ALLOW_INLINE_SPECS === 'true' };
}

/** Every host path the spec names stays inside the roots the worker allows. */
export async function confineHostPaths(plan: DeployPlan, hostRoots: string[]): Promise<void> {
  if (plan.config.envFile) await confine(`environments.${plan.environment}.config.envFile`, plan.config.envFile, hostRoots, 'the host roots');
  await confine('source.repository', plan.source.repository, hostRoots, 'the host roots');
  await confine(`environments.${plan.environment}.target`, describeTarget(plan.target, plan.dataDir).diskPath, hostRoots, 'the host roots');
}

/** Reads the allowed_signers file the spec names (inside the spec root) into the plan: the keys this deploy trusts. */
export async function readTrust(spec: DeploySpec, specFile: string | undefined, specRoot: string): Promise<NonNullable<DeployPlan['trust']>> {
  const name = spec.trust!.allowedSigners;
  const base = specFile ? path.dirname(specFile) : specRoot;
  const file = await confine('trust.allowedSigners', path.resolve(base, name), [specRoot], 'the spec root');
  let text: string;
  try {
    const stat = await fs.stat(file);
    if (stat.size > MAX_ALLOWED_SIGNERS_BYTES) throw refuse(FailureType.SpecInvalid, `trust.allowedSigners: ${name} is larger than ${MAX_ALLOWED_SIGNERS_BYTES} bytes`);
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as { type?: string }).type) throw err;
    throw refuse(FailureType.SpecInvalid, `trust.allowedSigners: cannot read ${name} (${(err as NodeJS.ErrnoException).code ?? 'error'}); it holds the approvers' public keys (npm run setup writes the example's)`);
  }
  try {
    const allowedSigners = parseAllowedSigners(text, { source: name });
    return { allowedSigners, source: name, sha256: createHash('sha256').update(text).digest('hex') };
  } catch (err) {
    if (err instanceof AllowedSignersError) throw refuse(FailureType.SpecInvalid, `trust.allowedSigners: ${err.message}`);
    throw err;
  }
}

/** A deploy to an environment with a signed gate must be asked for by `requestedBy`, provably and recently. */
function verifyRequest(plan: DeployPlan, input: { spec: unknown; version: string; requestedAt?: string; signature?: string }, workflowId: string): NonNullable<DeployPlan['request']> {
  const how = `sign it with: npx deployctl deploy ${typeof input.spec === 'string' ? input.spec : '<spec>'} --env ${plan.environment} --version ${input.version} --by ${plan.requestedBy} --key <private key>`;
  if (!input.signature || !input.requestedAt) {
    throw refuse(FailureType.SignatureRefused, `input.signature: ${plan.environment} has a signed approval gate, so the deploy request must be signed by ${plan.requestedBy} (with requestedAt); ${how}`);
  }
  if (!plan.trust) throw refuse(FailureType.SpecInvalid, 'trust.allowedSigners: a signed gate needs the approvers\' public keys');
  const stale = requestAgeProblem(input.requestedAt, Date.now(), { maxAgeMs: REQUEST_MAX_AGE_MS, maxFutureSkewMs: 2 * 60_000 });
  if (stale) throw refuse(FailureType.SignatureRefused, `input.requestedAt: ${stale}`);
  let statement: string;
  try {
    statement = renderRequestStatement({
      workflowId,
      service: plan.service,
      environment: plan.environment,
      // As the requester typed it (the plan's version is canonical: v1.2.3 and 1.2.3 are one release).
      version: input.version,
      spec: String(input.spec),
      requestedBy: plan.requestedBy,
      requestedAt: input.requestedAt,
    });
  } catch (err) {
    if (err instanceof StatementFieldError) throw refuse(FailureType.SignatureRefused, `input: ${err.message}`);
    throw err;
  }
  const verdict = verifySignedStatement({
    armored: input.signature,
    statement,
    namespace: SIGNATURE_NAMESPACE,
    principal: plan.requestedBy,
    signers: plan.trust.allowedSigners,
    verifyTimeMs: Date.now(),
  });
  if (!verdict.ok) throw refuse(FailureType.SignatureRefused, `input.signature: the request is not signed by ${plan.requestedBy}: ${verdict.reason}`);
  return { signer: verdict.principal, fingerprint: verdict.fingerprint, requestedAt: input.requestedAt };
}

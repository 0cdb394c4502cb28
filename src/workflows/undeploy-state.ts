import { setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import { SA } from './definitions';
import { DeployState } from './deploy-state';
import type { DeployResult, DeployStatus, DeployStatusView } from './types';
import type { StopStepResult, UndeployAction, UndeployPlan } from './undeploy-types';

/**
 * What a stop or undeploy knows about itself and shows: the deploy's bookkeeping (stages, bounded timeline,
 * search attributes, current details) with its own plan, so that `deployctl status`, the `status` query and
 * the Web UI read it like a deploy's, with `action` saying what it is.
 */
export class UndeployState extends DeployState {
  undeployPlan: UndeployPlan | undefined;
  step: StopStepResult | undefined;

  constructor(
    ids: { workflowId: string; runId: string },
    readonly action: UndeployAction,
  ) {
    super(ids);
  }

  /** The release it acts on: what the registry had live, else what `current` named. */
  get version(): string | undefined {
    return this.undeployPlan?.live?.version ?? this.step?.before.current?.version;
  }

  override publish(): void {
    const pairs: Array<{ key: (typeof SA)[keyof typeof SA]; value: string }> = [
      { key: SA.status, value: this.status },
      { key: SA.stage, value: this.stage },
    ];
    const p = this.undeployPlan;
    if (p) {
      pairs.push({ key: SA.service, value: p.service }, { key: SA.environment, value: p.environment }, { key: SA.requestedBy, value: p.requestedBy });
      if (this.version) pairs.push({ key: SA.version, value: this.version });
    }
    upsertSearchAttributes(pairs as never);
    setCurrentDetails(this.describe());
  }

  private headline(): string {
    const p = this.undeployPlan;
    if (!p) return `${this.action} ${this.ids.workflowId}`;
    const release = `${p.service}${this.version ? ` ${this.version}` : ''}`;
    return this.action === 'stop' ? `stop ${release} in ${p.environment} (current kept)` : `undeploy ${release} from ${p.environment}`;
  }

  override summary(): string {
    const by = this.undeployPlan ? `, requested by ${this.undeployPlan.requestedBy}` : '';
    return `${this.headline()}${by}: ${this.status}`;
  }

  override describe(): string {
    const p = this.undeployPlan;
    const lines = [p ? `**${this.headline()}** (requested by ${p.requestedBy})` : `**${this.headline()}**`];
    if (p) lines.push('', `reason: ${p.reason}`);
    lines.push('', `status: \`${this.status}\`, step: \`${this.stage}\``);
    if (this.step) lines.push('', describeStep(this.action, this.step));
    return lines.join('\n');
  }

  override view(): DeployStatusView {
    const p = this.undeployPlan;
    return { ...super.view(), action: this.action, service: p?.service, environment: p?.environment, version: this.version, requestedBy: p?.requestedBy };
  }

  override result(outcome: DeployStatus, reason?: string): DeployResult {
    const p = this.undeployPlan;
    return {
      ...super.result(outcome, reason ?? p?.reason),
      action: this.action,
      service: p?.service ?? '',
      environment: p?.environment ?? '',
      version: this.version ?? '',
      artifactSha256: this.step?.release?.sha256 ?? p?.live?.sha256,
    };
  }
}

/** "pid 4242 (1.1.0-0123456789ab) stopped; current removed; nothing is live in the registry". */
export function describeStep(action: UndeployAction, r: StopStepResult): string {
  const was = r.before.current ? `${r.before.current.releaseId}` : 'no current release';
  const process = r.before.running || r.before.pid !== undefined ? `pid ${r.before.pid ?? '?'} (${was}) stopped` : `no process was running (${was})`;
  const still = r.after.running ? `; STILL RUNNING as pid ${r.after.pid ?? '?'}` : '';
  if (action === 'stop') {
    return `${process}${still}; current ${r.after.current ? `kept: ${r.after.current.releaseId}` : 'none'}${r.release ? `; ${r.release.version} stays live in the registry (a deploy of it starts it again)` : ''}`;
  }
  return `${process}${still}; current ${r.after.current ? `STILL ${r.after.current.releaseId}` : 'removed'}; ${r.release ? `${r.release.version} is no longer live` : 'nothing was live'} in the registry (the next deploy is a first deploy)`;
}

import { condition } from '@temporalio/workflow';
import { failureMessage, type DeployState } from './deploy-state';
import { signedWith } from './gates';
import { checkDecisionSignature } from './signatures';
import type { InterveneSignal, SignatureProof, StageName } from './types';

/** One step that undoes a stage, pushed before the stage runs so a half-done stage is undone too. */
export interface Compensation {
  name: 'rollbackDeploy';
  undoes: StageName;
  summary: string;
  run: () => Promise<unknown>;
}

/** Thrown when an operator aborts a deploy stuck in needs_intervention. */
export class InterventionAborted extends Error {}

/**
 * The compensation stack. `compensate` runs it in reverse; a compensation that fails (after its activity's
 * retries) is never swallowed: the deploy waits in `needs_intervention` until an operator says retry, skip
 * or abort.
 */
export class Saga {
  private readonly stack: Compensation[] = [];
  private intervention: (Omit<InterveneSignal, 'signature'> & { at: string; signature?: SignatureProof }) | undefined;

  constructor(private readonly deploy: DeployState) {}

  push(c: Compensation): void {
    this.stack.push(c);
  }

  /** How many compensations would run. */
  get size(): number {
    return this.stack.length;
  }

  /** Forgets the stack: what was done is kept (a validated release is never undone by bookkeeping). */
  clear(): void {
    this.stack.length = 0;
  }

  /**
   * Takes an operator's intervention; returns why it is refused, or null when it was taken. Where the plan
   * names operators, only they may intervene, and only with a signature.
   */
  intervene(decision: InterveneSignal): string | null {
    const pending = this.deploy.pendingIntervention;
    if (!pending || this.intervention) return 'the deploy is not waiting for an intervention';
    const policy = this.deploy.plan?.intervention;
    let signature: SignatureProof | undefined;
    if (policy && policy.operators.length > 0 && !policy.operators.includes(decision.by)) {
      return `${decision.by} is not an operator of ${this.deploy.plan!.environment} (allowed: ${policy.operators.join(', ')})`;
    }
    if (policy?.signed) {
      const checked = checkDecisionSignature(this.deploy, { stage: pending.compensation, decision: `intervene:${decision.action}`, signer: decision.by, signature: decision.signature });
      if ('refusal' in checked) return checked.refusal;
      signature = checked.proof;
    }
    this.intervention = { ...decision, at: this.deploy.now(), signature };
    return null;
  }

  /** Runs every compensation, last pushed first. Throws InterventionAborted when an operator aborts. */
  async compensate(): Promise<void> {
    const { deploy } = this;
    for (const c of [...this.stack].reverse()) {
      for (;;) {
        deploy.setStatus('running', 'compensating', c.summary);
        try {
          await c.run();
          deploy.compensations.push({ name: c.name, undoes: c.undoes, status: 'succeeded', at: deploy.now() });
          deploy.note({ kind: 'compensation', stage: c.undoes, event: `${c.name} succeeded`, detail: c.summary });
          break;
        } catch (err) {
          const error = failureMessage(err);
          deploy.compensations.push({ name: c.name, undoes: c.undoes, status: 'failed', error, at: deploy.now() });
          deploy.note({ kind: 'compensation', stage: c.undoes, event: `${c.name} FAILED`, detail: error });
          deploy.pendingIntervention = { compensation: c.name, error, since: deploy.now() };
          const policy = deploy.plan?.intervention;
          if (policy && policy.operators.length > 0) {
            const p = deploy.plan!;
            Object.assign(deploy.pendingIntervention, {
              operators: policy.operators,
              signed: policy.signed,
              sign: { ...deploy.ids, service: p.service, environment: p.environment, version: p.version, artifactSha256: deploy.artifact?.sha256 ?? null, stage: c.name },
            });
          }
          deploy.setStatus('needs_intervention', 'compensating', `an operator: ${c.name} failed (${error}); send intervene with action retry, skip or abort`);
          await condition(() => this.intervention !== undefined);
          const act = this.intervention!;
          this.intervention = undefined;
          deploy.pendingIntervention = undefined;
          deploy.note({ kind: 'intervention', stage: c.undoes, event: `${act.action} by ${act.by}${signedWith(act.signature)}`, detail: act.comment });
          const signed = act.signature ? { signature: act.signature } : {};
          if (act.action === 'retry') {
            deploy.compensations.push({ name: c.name, undoes: c.undoes, status: 'retried', by: act.by, at: act.at, ...signed });
            continue;
          }
          if (act.action === 'skip') {
            deploy.compensations.push({ name: c.name, undoes: c.undoes, status: 'skipped', by: act.by, at: act.at, ...signed });
            break;
          }
          throw new InterventionAborted(`${c.name} failed and ${act.by} aborted the deploy${act.comment ? `: ${act.comment}` : ''}`);
        }
      }
    }
    this.clear();
  }
}

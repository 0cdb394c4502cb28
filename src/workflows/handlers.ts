import { ApplicationFailure, setHandler } from '@temporalio/workflow';
import { approvalUpdate, approveSignal, interveneSignal, promoteSignal, rejectSignal, statusQuery } from './definitions';
import type { DeployState } from './deploy-state';
import type { ApprovalGates } from './gates';
import { checkPayload } from './payloads';
import type { Promotions } from './rollout';
import type { Saga } from './saga';

/** The failure type of an `approval` update its validator refuses. */
export const APPROVAL_REFUSED = 'ApprovalRefused';

/**
 * The deploy's message handlers. Payloads are external input: validated here, refusals recorded in the
 * timeline (signals) or returned to the caller (the update's validator, so a refused update never enters
 * history).
 */
export function installHandlers(deploy: DeployState, gates: ApprovalGates, saga: Saga, promotions?: Promotions): void {
  setHandler(statusQuery, () => deploy.view());

  const onSignalDecision = (decision: 'approve' | 'reject', raw: unknown) => {
    const parsed = checkPayload(decision, raw);
    if (!parsed.ok) {
      deploy.note({ kind: 'signal_refused', event: `${decision} refused: invalid payload`, detail: parsed.error });
      return;
    }
    const data: { by: string; comment?: string; reason?: string; signature?: string } = parsed.data;
    // A reject while a rollout is paused for promote stops the rollout (no gate waits then).
    if (decision === 'reject' && promotions?.waiting && !deploy.pendingGate) return onPromotion('reject', data);
    const checked = gates.check(data.by, decision, data.signature);
    if ('refusal' in checked) {
      deploy.note({ kind: 'signal_refused', event: `${decision} by ${data.by} refused`, detail: checked.refusal });
      return;
    }
    gates.decide(decision, data.by, data.reason ?? data.comment, 'signal', checked.proof);
  };
  const onPromotion = (decision: 'promote' | 'reject', data: { by: string; comment?: string; reason?: string; signature?: string }) => {
    const checked = promotions ? promotions.check(data.by, decision, data.signature) : { refusal: 'no paused rollout is waiting for promote in this deploy' };
    if ('refusal' in checked) {
      deploy.note({ kind: 'signal_refused', event: `${decision} by ${data.by} refused`, detail: checked.refusal });
      return;
    }
    promotions!.decide(decision, data.by, data.reason ?? data.comment, checked.proof);
  };
  setHandler(promoteSignal, (raw) => {
    const parsed = checkPayload('promote', raw);
    if (!parsed.ok) {
      deploy.note({ kind: 'signal_refused', event: 'promote refused: invalid payload', detail: parsed.error });
      return;
    }
    onPromotion('promote', parsed.data);
  });
  setHandler(approveSignal, (raw) => onSignalDecision('approve', raw));
  setHandler(rejectSignal, (raw) => onSignalDecision('reject', raw));

  setHandler(
    approvalUpdate,
    (raw) => {
      // The validator below accepted this payload (an update it refuses never reaches the handler).
      const accepted = checkPayload('approval', raw);
      if (!accepted.ok) throw ApplicationFailure.nonRetryable(accepted.error, APPROVAL_REFUSED);
      const p = accepted.data;
      const checked = gates.check(p.by, p.decision, p.signature);
      gates.decide(p.decision, p.by, p.comment, 'update', 'proof' in checked ? checked.proof : undefined);
      return gates.current!;
    },
    {
      // A refusal is final for this payload: sending it again cannot help, so it is non-retryable with a
      // type naming it (the Temporal CLI prints "type: ApprovalRefused, retryable: false").
      validator: (raw) => {
        const parsed = checkPayload('approval', raw);
        if (!parsed.ok) throw ApplicationFailure.nonRetryable(parsed.error, APPROVAL_REFUSED);
        const checked = gates.check(parsed.data.by, parsed.data.decision, parsed.data.signature);
        if ('refusal' in checked) throw ApplicationFailure.nonRetryable(checked.refusal, APPROVAL_REFUSED);
      },
    },
  );

  setHandler(interveneSignal, (raw) => {
    const parsed = checkPayload('intervene', raw);
    if (!parsed.ok) {
      deploy.note({ kind: 'signal_refused', event: 'intervene refused: invalid payload', detail: parsed.error });
      return;
    }
    const refusal = saga.intervene(parsed.data);
    if (refusal) deploy.note({ kind: 'signal_refused', event: `intervene by ${parsed.data.by} refused`, detail: refusal });
  });
}

import { setHandler } from '@temporalio/workflow';
import { approvalUpdate, approveSignal, interveneSignal, rejectSignal, statusQuery } from './definitions';
import type { DeployState } from './deploy-state';
import type { ApprovalGates } from './gates';
import { describePayloadError, payloadSchemas } from './payloads';
import type { Saga } from './saga';

/**
 * The deploy's message handlers. Payloads are external input: validated here, refusals recorded in the
 * timeline (signals) or returned to the caller (the update's validator, so a refused update never enters
 * history).
 */
export function installHandlers(deploy: DeployState, gates: ApprovalGates, saga: Saga): void {
  setHandler(statusQuery, () => deploy.view());

  const onSignalDecision = (decision: 'approve' | 'reject', raw: unknown) => {
    const parsed = payloadSchemas()[decision].safeParse(raw);
    if (!parsed.success) {
      deploy.note({ kind: 'signal_refused', event: `${decision} refused: invalid payload`, detail: describePayloadError(decision, parsed.error) });
      return;
    }
    const data = parsed.data as { by: string; comment?: string; reason?: string };
    const refusal = gates.refusal(data.by, decision);
    if (refusal) {
      deploy.note({ kind: 'signal_refused', event: `${decision} by ${data.by} refused`, detail: refusal });
      return;
    }
    gates.decide(decision, data.by, data.reason ?? data.comment, 'signal');
  };
  setHandler(approveSignal, (raw) => onSignalDecision('approve', raw));
  setHandler(rejectSignal, (raw) => onSignalDecision('reject', raw));

  setHandler(
    approvalUpdate,
    (raw) => {
      const p = payloadSchemas().approval.parse(raw);
      gates.decide(p.decision, p.by, p.comment, 'update');
      return gates.current!;
    },
    {
      validator: (raw) => {
        const parsed = payloadSchemas().approval.safeParse(raw);
        if (!parsed.success) throw new Error(describePayloadError('approval', parsed.error));
        const refusal = gates.refusal(parsed.data.by, parsed.data.decision);
        if (refusal) throw new Error(refusal);
      },
    },
  );

  setHandler(interveneSignal, (raw) => {
    const parsed = payloadSchemas().intervene.safeParse(raw);
    if (!parsed.success) {
      deploy.note({ kind: 'signal_refused', event: 'intervene refused: invalid payload', detail: describePayloadError('intervene', parsed.error) });
      return;
    }
    const refusal = saga.intervene(parsed.data);
    if (refusal) deploy.note({ kind: 'signal_refused', event: `intervene by ${parsed.data.by} refused`, detail: refusal });
  });
}

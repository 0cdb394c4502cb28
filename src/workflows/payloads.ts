import { z } from 'zod';
import { personName } from '../names';
import { describeIssues } from '../zod-issues';

// Signal and update payloads are external input: validated here, inside the workflow, because a signal
// has no validator of its own. Free text is bounded and free of control characters.
const freeText = z
  .string()
  .max(500)
  .refine((t) => !/[\u0000-\u0008\u000b-\u001f\u007f\u202a-\u202e\u2066-\u2069]/.test(t), 'must not contain control or bidi characters');

export const approvePayload = z.strictObject({ by: personName, comment: freeText.optional() });
export const rejectPayload = z.strictObject({ by: personName, reason: freeText.optional(), comment: freeText.optional() });
export const intervenePayload = z.strictObject({ by: personName, action: z.enum(['retry', 'skip', 'abort']), comment: freeText.optional() });
export const approvalUpdatePayload = z.strictObject({ decision: z.enum(['approve', 'reject']), by: personName, comment: freeText.optional() });

export function describePayloadError(name: string, error: z.ZodError): string {
  return `${name}: ${describeIssues(error).map((line) => line.replace(/^\(root\)/, '(payload)')).join('; ')}`;
}

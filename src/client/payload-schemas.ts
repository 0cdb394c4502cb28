import { z } from 'zod';
import { freeText, personName } from '../names';
import { SIGNATURE_MAX_CHARS, SIGNATURE_TOO_LONG } from '../text-rules';

const signature = z.string().max(SIGNATURE_MAX_CHARS, SIGNATURE_TOO_LONG);

/**
 * The approve/reject/intervene/promote signals and the approval update as zod schemas, for code outside the
 * workflow (clients, runbooks, tests). The workflow checks the same payloads by hand
 * (src/workflows/payloads.ts) with the same messages: zod in the workflow bundle costs every cached
 * workflow's worker memory (BENCHMARKS.md, "Worker memory"). test/unit/payload-validation.test.ts holds the
 * two to the same verdicts.
 */
export const payloadSchemas = {
  approve: z.strictObject({ by: personName, comment: freeText.optional(), signature: signature.optional() }),
  reject: z.strictObject({ by: personName, reason: freeText.optional(), comment: freeText.optional(), signature: signature.optional() }),
  intervene: z.strictObject({ by: personName, action: z.enum(['retry', 'skip', 'abort']), comment: freeText.optional(), signature: signature.optional() }),
  promote: z.strictObject({ by: personName, comment: freeText.optional(), signature: signature.optional() }),
  approval: z.strictObject({ decision: z.enum(['approve', 'reject']), by: personName, comment: freeText.optional(), signature: signature.optional() }),
};

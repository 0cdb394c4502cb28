import { z } from 'zod';
import { personName } from '../names';
import { positiveMs } from './fields';

/**
 * How a release takes over an environment's traffic (`environments.<env>.strategy`), with Argo Rollouts'
 * names where they fit:
 * - replace: stop the old release, start the new one (for services that cannot run two copies);
 * - blueGreen: start the new release beside the old one, analyse it, switch all traffic at once, keep the
 *   old one running (drained) for scaleDownDelaySeconds so a rollback is a switch back;
 * - canary: shift traffic in steps (`setWeight`), judging the new release at each (`analysis`), optionally
 *   waiting (`pause`: a duration, or until a signed `promote`).
 * blueGreen and canary put an HAProxy front door on the target's port; releases listen on internal ports.
 */

const percent = z.number().int('must be an integer percentage').min(0, 'must be a percentage 0-100').max(100, 'must be a percentage 0-100');

/** One canary step: exactly one of setWeight, analysis, pause (so an error names the exact field). */
const canaryStepSchema = z
  .strictObject({
    /** The new release's share of new requests, in percent; the stable release gets the rest. */
    setWeight: percent.optional(),
    /** The health analysis (the spec's thresholds) against the new release's own port, or the front door. */
    analysis: z
      .strictObject({
        against: z.enum(['canary', 'frontDoor'], 'must be "canary" (the new release\'s own port) or "frontDoor"').default('canary'),
        /** Overrides health.windowMs for this step. */
        windowMs: positiveMs.optional(),
      })
      .optional(),
    /** Waits `seconds`, or without seconds until one of strategy.promoters sends a signed `promote`. */
    pause: z.strictObject({ seconds: z.number().int('must be an integer').min(1, 'must be at least 1').max(86_400, 'must be at most 86400').optional() }).optional(),
  })
  .superRefine((step, ctx) => {
    const keys = (['setWeight', 'analysis', 'pause'] as const).filter((k) => step[k] !== undefined);
    if (keys.length !== 1) {
      ctx.addIssue({ code: 'custom', message: `a step is exactly one of setWeight, analysis or pause (this one has ${keys.length ? keys.join(' and ') : 'none'})` });
    }
  });
export type CanaryStepSpec = z.infer<typeof canaryStepSchema>;

const promotion = {
  /** Who may send `promote` (signed by their key in trust.allowedSigners). */
  promoters: z.array(personName).max(100).default([]),
  /** How long a pause for `promote` waits before the deploy is rolled back. */
  promoteTimeoutMinutes: z.number().int().min(1).max(60 * 24 * 14).default(24 * 60),
  /** How long the replaced release keeps running (drained) after the switch, so a rollback is a switch back. */
  scaleDownDelaySeconds: z.number().int('must be an integer').min(0, 'must not be negative').max(86_400, 'must be at most 86400').default(30),
};

export const strategySchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('replace') }),
  z.strictObject({
    type: z.literal('blueGreen'),
    /** Analyse the new release on its own port before it takes any request (Argo's prePromotionAnalysis). */
    previewAnalysis: z.boolean().default(true),
    /** Wait for a signed `promote` before switching (Argo's autoPromotionEnabled: false). */
    pauseForPromote: z.boolean().default(false),
    ...promotion,
  }),
  z.strictObject({
    type: z.literal('canary'),
    steps: z.array(canaryStepSchema).min(1, 'needs at least one step, e.g. [{setWeight: 25}, {analysis: {}}]').max(50),
    ...promotion,
  }),
]);
export type StrategySpec = z.infer<typeof strategySchema>;

/** Problems a strategy has beyond its shape, as [path below `strategy`, message]. */
export function strategyProblems(s: StrategySpec, o: { trusted: boolean; frontDoorCapable: boolean; targetType: string }): Array<[Array<string | number>, string]> {
  const out: Array<[Array<string | number>, string]> = [];
  if (s.type === 'replace') return out;
  if (!o.frontDoorCapable) out.push([['type'], `${s.type} needs a target that can run two releases behind a front door; a ${o.targetType} target supports only "replace"`]);
  if (s.promoters.length > 0 && !o.trusted) out.push([['promoters'], 'promote decisions are signed: add trust.allowedSigners with the promoters\' public keys']);
  if (s.type === 'blueGreen' && s.pauseForPromote && s.promoters.length === 0) {
    out.push([['pauseForPromote'], 'a pause for promote needs someone allowed to promote: list them in strategy.promoters']);
  }
  if (s.type === 'canary') {
    let full = -1;
    s.steps.forEach((step, i) => {
      if (full >= 0) out.push([['steps', i], `comes after steps[${full}] set the weight to 100 (the new release already takes all traffic); remove it or lower that weight`]);
      if (step.setWeight === 100 && full < 0) full = i;
      if (step.pause && step.pause.seconds === undefined && s.promoters.length === 0) {
        out.push([['steps', i, 'pause'], 'a pause without seconds waits for promote, and nobody may promote: list strategy.promoters or give the pause seconds']);
      }
    });
  }
  return out;
}

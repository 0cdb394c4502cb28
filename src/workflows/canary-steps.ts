import type { CanaryStep } from './types';

/** What one canary step does, in words (timeline, status, activity summaries). */
export function describeCanaryStep(step: CanaryStep): string {
  if ('setWeight' in step) return `setWeight ${step.setWeight}%`;
  if ('analysis' in step) return `analysis against ${step.analysis.against === 'canary' ? 'the new release' : 'the front door'}`;
  return step.pause.seconds !== undefined ? `pause ${step.pause.seconds} s` : 'pause until promoted';
}

import { proxyActivities } from '@temporalio/workflow';
import type { BareActivities } from './activities';

const acts = proxyActivities<BareActivities>({ startToCloseTimeout: '1 minute' });

/** The same seven activities as a deploy, in the same order, with nothing around them. */
export async function bareDeploy(): Promise<void> {
  await acts.plan();
  await acts.build();
  await acts.preChecks();
  await acts.migrate();
  await acts.deploy();
  await acts.validate();
  await acts.recordRelease();
}

import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { startDeployWorld, type DeployWorld } from './helpers/deploy-world';
import { UI_ARTIFACTS_DIR, launchTestBrowser, type TestBrowser } from './helpers/browser';

/**
 * A fleet deploy in the Temporal Web UI, in a real browser: the workflow list finds each host's child
 * workflow by type, and a host's page shows what its agent did (drain, hostDeploy, hostProbe, ready) with
 * the summaries the workflow gave them. Two hosts in two batches keep it short.
 */

const UI_TIMEOUT_MS = 90_000;
let browser: TestBrowser | undefined;
let skipReason: string | undefined;
let world: DeployWorld;
let ui: string;
let deployId: string;

before(async () => {
  const launched = await launchTestBrowser();
  if ('skip' in launched) {
    skipReason = launched.skip;
    return;
  }
  browser = launched;
  world = await startDeployWorld({
    ui: true,
    specOverrides: (spec) => {
      spec.environments.fleet.target.hosts = spec.environments.fleet.target.hosts.slice(0, 2);
      spec.environments.fleet.target.batchSize = 1;
    },
  });
  ui = `http://127.0.0.1:${world.temporal.uiPort}`;
  await world.startWorker();
  await world.spawnAgents(['web-1', 'web-2']);
  const handle = await world.deploy({ environment: 'fleet', version: '1.1.0' });
  const { status, result } = await world.outcome(handle);
  assert.equal(status, 'succeeded', JSON.stringify(result.timeline.slice(-4), null, 1));
  deployId = handle.workflowId;
});

after(async () => {
  await browser?.close();
  await world?.cleanup();
});

function skipped(t: TestContext): boolean {
  if (!skipReason) return false;
  t.skip(skipReason);
  return true;
}

async function waitForTexts(page: Page, texts: string[], label: string): Promise<void> {
  const deadline = Date.now() + UI_TIMEOUT_MS;
  let text = '';
  for (;;) {
    text = await page.locator('body').innerText().catch(() => '');
    if (texts.every((w) => text.includes(w))) return;
    if (Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const dump = path.join(UI_ARTIFACTS_DIR, `${label}-failed.txt`);
  await fs.writeFile(dump, text);
  const shot = await browser!.screenshot(`${label}-failed`).catch(() => '(no screenshot)');
  assert.fail(`${page.url()} did not show ${JSON.stringify(texts.filter((w) => !text.includes(w)))}; page text in ${dump}, screenshot ${shot}`);
}

test('the workflow list shows each host of the fleet deploy as its own child workflow', async (t) => {
  if (skipped(t)) return;
  const page = browser!.page;
  const url = `${ui}/namespaces/default/workflows?query=${encodeURIComponent('WorkflowType="deployFleetHost"')}`;
  // Visibility is eventually consistent: load the list again until the host children are in it.
  const deadline = Date.now() + UI_TIMEOUT_MS;
  for (;;) {
    await page.goto(url);
    try {
      await page.getByText(`${deployId}/batch-2/host-web-2`).first().waitFor({ timeout: 15_000 });
      break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
  }
  await waitForTexts(page, [`${deployId}/batch-1/host-web-1`, `${deployId}/batch-2/host-web-2`, 'deployFleetHost'], 'fleet-hosts-list');
  t.diagnostic(`screenshot: ${await browser!.screenshot('fleet-hosts-list')}`);
});

test("a host's page shows its agent's steps with their summaries", async (t) => {
  if (skipped(t)) return;
  const page = browser!.page;
  const id = `${deployId}/batch-1/host-web-1`;
  const runId = (await world.client.workflow.getHandle(id).describe()).runId;
  await page.goto(`${ui}/namespaces/default/workflows/${encodeURIComponent(id)}/${runId}/history`);
  await waitForTexts(
    page,
    [
      'Completed',
      'fleetHostTraffic • drain web-1 in the front door',
      'hostDeploy • web-1: deploy 1.1.0',
      'hostProbe • web-1: readiness and analysis on the host',
      'fleetHostTraffic • put web-1 back in the front door',
      'web-1: hello-service 1.1.0 (batch 1/2)',
    ],
    'fleet-host',
  );
  t.diagnostic(`screenshot: ${await browser!.screenshot('fleet-host')}`);
});

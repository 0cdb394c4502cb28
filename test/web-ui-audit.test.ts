import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { startDeployWorld, type DeployWorld } from './helpers/deploy-world';
import { UI_ARTIFACTS_DIR, launchTestBrowser, type TestBrowser } from './helpers/browser';

/**
 * The audit an operator does in the Temporal Web UI, in a real browser (Debian's Chromium through
 * playwright-core): filter deploys by DeployService and DeployStatus, open a rolled-back deploy and see its
 * stage activities with their summaries; open a production deploy and see alice's signed approve signal.
 * Screenshots are kept under test-artifacts/ui/.
 */

const ROLLED_BACK_QUERY = 'DeployService="hello-service" AND DeployStatus="rolled_back"';
const UI_TIMEOUT_MS = 90_000;

let browser: TestBrowser | undefined;
let skipReason: string | undefined;
let world: DeployWorld;
let ui: string;
let rolledBackRunId: string;
let productionRunId: string;

before(async () => {
  const launched = await launchTestBrowser();
  if ('skip' in launched) {
    skipReason = launched.skip;
    return;
  }
  browser = launched;
  world = await startDeployWorld({
    ui: true,
    // A slow boot on a busy machine must not look unhealthy; the known-bad 2.0.0 still fails within seconds.
    specOverrides: (spec) => {
      spec.health = { ...spec.health, intervalMs: 250, windowMs: 20_000, consecutiveSuccesses: 4, maxConsecutiveFailures: 12 };
    },
  });
  ui = `http://127.0.0.1:${world.temporal.uiPort}`;
  await world.startWorker();

  const production = await world.deploy({ environment: 'production', version: '1.1.0', requestedBy: 'carol' });
  await world.waitForStatus(production, (s) => s.status === 'awaiting_approval', 120_000);
  // Production's gate is signed: alice's approval carries her signature over the gate's statement.
  await world.approve(production, 'alice', 'checked in the UI');
  const prod = await world.outcome(production);
  assert.equal(prod.status, 'succeeded', JSON.stringify(prod.result?.timeline, null, 1));
  productionRunId = prod.result.runId;

  const good = await world.outcome(await world.deploy({ environment: 'staging', version: '1.1.0' }));
  assert.equal(good.status, 'succeeded', JSON.stringify(good.result?.timeline, null, 1));
  const bad = await world.outcome(await world.deploy({ environment: 'staging', version: '2.0.0' }));
  assert.equal(bad.status, 'rolled_back', JSON.stringify(bad.result?.timeline, null, 1));
  rolledBackRunId = bad.result.runId;
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

async function bodyText(page: Page): Promise<string> {
  return page.locator('body').innerText();
}

/** Waits until the rendered page shows every one of `texts`; on failure, keeps the page text and a screenshot. */
async function waitForTexts(page: Page, texts: string[], label: string, timeoutMs = UI_TIMEOUT_MS): Promise<void> {
  // Polled from here rather than with a page-side predicate: the UI's content security policy forbids eval.
  const deadline = Date.now() + timeoutMs;
  let text = '';
  for (;;) {
    text = await bodyText(page).catch(() => '');
    if (texts.every((w) => text.includes(w))) return;
    if (Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const dump = path.join(UI_ARTIFACTS_DIR, `${label}-failed.txt`);
  await fs.writeFile(dump, text);
  const shot = await browser!.screenshot(`${label}-failed`).catch(() => '(no screenshot)');
  const missing = texts.filter((w) => !text.includes(w));
  assert.fail(`${page.url()} did not show ${JSON.stringify(missing)} within ${timeoutMs} ms; page text in ${dump}, screenshot ${shot}`);
}

async function keepScreenshot(t: TestContext, name: string): Promise<void> {
  const file = await browser!.screenshot(name);
  t.diagnostic(`screenshot: ${file}`);
}

test('the workflow list filtered by DeployService and DeployStatus shows the rolled-back deploy only', async (t) => {
  if (skipped(t)) return;
  const page = browser!.page;
  const url = `${ui}/namespaces/default/workflows?query=${encodeURIComponent(ROLLED_BACK_QUERY)}`;
  // Visibility is eventually consistent: reload until the closed deploy is listed.
  const deadline = Date.now() + UI_TIMEOUT_MS;
  for (;;) {
    await page.goto(url);
    try {
      await page.getByText(rolledBackRunId).first().waitFor({ timeout: 15_000 });
      break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
  }
  await waitForTexts(page, ['DeployService', '"hello-service"', 'DeployStatus', '"rolled_back"', 'deploy-hello-service-staging', 'Failed'], 'list');
  const text = await bodyText(page);
  assert.doesNotMatch(text, /deploy-hello-service-production/, 'the production deploy succeeded: the filter must hide it');
  assert.ok(!text.includes(productionRunId));
  await keepScreenshot(t, 'rolled-back-list');

  // Open it from the list, as an operator would.
  await page.getByText(rolledBackRunId).first().click();
  await page.waitForURL(new RegExp(`/workflows/deploy-hello-service-staging/${rolledBackRunId}`), { timeout: UI_TIMEOUT_MS });
});

test('a rolled-back deploy shows its stage activities, the rollback and their summaries', async (t) => {
  if (skipped(t)) return;
  const page = browser!.page;
  if (!page.url().includes(rolledBackRunId)) {
    await page.goto(`${ui}/namespaces/default/workflows/deploy-hello-service-staging/${rolledBackRunId}/history`);
  }
  // The timeline labels each activity "<type> • <summary>"; the summaries come from the workflow.
  await waitForTexts(
    page,
    [
      'Failed',
      'deploy-hello-service-staging',
      'build • build hello-service 2.0.0',
      'preChecks • pre-checks for staging',
      'migrate • expand migrations of 2.0.0 on the staging database',
      'deploy • deploy 2.0.0 to staging (local target), previous 1.1.0',
      'validate • health analysis of',
      'rollbackDeploy • roll staging back to 1.1.0',
      'recordRelease • record 2.0.0 in staging as rolled_back',
      // The start's static summary and the failure's outcome.
      'hello-service 2.0.0 → staging, requested by carol',
      'Deploy_rolled_back',
    ],
    'rolled-back-deploy',
  );
  await keepScreenshot(t, 'rolled-back-deploy');
});

test('a production deploy shows the approve signal with alice and her signature in its input', async (t) => {
  if (skipped(t)) return;
  const page = browser!.page;
  await page.goto(`${ui}/namespaces/default/workflows/deploy-hello-service-production/${productionRunId}/history`);
  await waitForTexts(
    page,
    [
      'Completed',
      'build • build hello-service 1.1.0',
      'preChecks • pre-checks for production',
      'migrate • expand migrations of 1.1.0 on the production database',
      'deploy • deploy 1.1.0 to production',
      'validate • health analysis of',
      'recordRelease • record 1.1.0 in production as succeeded',
      'hello-service 1.1.0 → production, requested by carol',
      'Workflow Execution Signaled',
    ],
    'production-deploy',
  );
  // The signal's input is in its event's details: expand that row.
  const signalRow = page.locator('[data-testid="event-summary-row"]', { hasText: 'Workflow Execution Signaled' }).first();
  await signalRow.scrollIntoViewIfNeeded();
  await signalRow.click();
  await waitForTexts(page, ['Signal Name', 'approve', '"by": "alice"', 'checked in the UI', '-----BEGIN SSH SIGNATURE-----'], 'production-signal');
  await signalRow.scrollIntoViewIfNeeded();
  await keepScreenshot(t, 'production-approved-by-alice');
});

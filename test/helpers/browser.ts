import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { HEADLESS_CHROMIUM_ARGS, findOrInstallChromium } from '../../scripts/lib/chromium';
import { REPO_ROOT } from './deploy-world';

/** Where browser tests keep their screenshots (git-ignored). */
export const UI_ARTIFACTS_DIR = path.join(REPO_ROOT, 'test-artifacts', 'ui');

export interface TestBrowser {
  context: BrowserContext;
  page: Page;
  executablePath: string;
  /** Saves a full-page screenshot under test-artifacts/ui/<name>.png and returns its path. */
  screenshot(name: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * Debian's Chromium through playwright-core, headless, with a fresh profile that is removed on close.
 * Returns a reason instead when no browser can be had, for the caller to skip with.
 */
export async function launchTestBrowser(): Promise<TestBrowser | { skip: string }> {
  const found = await findOrInstallChromium();
  if (!found.found) return { skip: `no Chromium for the Web UI test: ${found.reason}` };

  const userDataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ui-test-chromium-'));
  let context: BrowserContext;
  try {
    // A persistent context is how playwright takes a --user-data-dir; a fresh one per run keeps runs independent.
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: found.path,
      headless: true,
      args: [...HEADLESS_CHROMIUM_ARGS],
      viewport: { width: 1600, height: 1000 },
      timeout: 120_000,
    });
  } catch (err) {
    await fs.rm(userDataDir, { recursive: true, force: true });
    throw new Error(`Chromium at ${found.path} did not start through playwright-core: ${(err as Error).message}`);
  }
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(60_000);
  await fs.mkdir(UI_ARTIFACTS_DIR, { recursive: true });

  return {
    context,
    page,
    executablePath: found.path,
    async screenshot(name) {
      const file = path.join(UI_ARTIFACTS_DIR, `${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      return file;
    },
    async close() {
      await context.close().catch(() => undefined);
      await fs.rm(userDataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A real browser for the console tests: Debian's chromium driven by playwright-core (which downloads nothing).
 * One browser per test file, with a fresh profile folder; pages are reused within the file. Works under Node and
 * under Bun (playwright talks to chromium over a pipe).
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";
/** Screenshots for reviewers; gitignored. */
export const SCREENSHOT_DIR = path.join(import.meta.dirname, "..", "..", "test-results", "screenshots");

export interface TestBrowser {
  context: BrowserContext;
  newPage(viewport?: { width: number; height: number }): Promise<Page>;
  screenshot(page: Page, name: string): Promise<void>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`the console's browser tests need Debian's chromium at ${CHROMIUM}: install it with \`apt-get install -y --no-install-recommends chromium\` (.ci/run does this when it is missing)`);
  }
  const profile = await mkdtemp(path.join(tmpdir(), "hookledger-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 860 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  return {
    context,
    async newPage(viewport) {
      const page = await context.newPage();
      if (viewport) await page.setViewportSize(viewport);
      return page;
    },
    async screenshot(page, name) {
      await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
    },
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

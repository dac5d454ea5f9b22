import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";

/** Debian's Chromium, driven by playwright-core (Playwright's own browser download does not work here). */
export const CHROMIUM = "/usr/bin/chromium";
export const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync"];

/** Browsers each on a fresh temporary profile (own cookies), with the page errors they saw; `close()` removes them all. */
export class Browsers {
  readonly pageErrors: string[] = [];
  readonly #profiles: string[] = [];
  readonly #contexts: BrowserContext[] = [];

  async open(): Promise<Page> {
    const profile = mkdtempSync(join(tmpdir(), "pb-browser-profile-"));
    this.#profiles.push(profile);
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1100, height: 760 },
    });
    this.#contexts.push(context);
    const page = context.pages()[0] ?? await context.newPage();
    page.on("pageerror", (e) => this.pageErrors.push(e.message));
    return page;
  }

  async close(): Promise<void> {
    for (const context of this.#contexts) {
      await context.close();
    }
    for (const profile of this.#profiles) {
      rmSync(profile, { recursive: true, force: true });
    }
  }
}

/** Signs in on the demo's page at `url` with the form a user fills. */
export async function signIn(page: Page, url: string, user: string, password: string): Promise<void> {
  await page.goto(url);
  await page.getByLabel("User name").fill(user);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

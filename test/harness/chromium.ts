/**
 * Headless Chromium for page tests: Debian's `chromium` (or ATTACHE_CHROMIUM) driven by
 * playwright-core, which starts it with a fresh temporary profile of its own. `npm run test:deps`
 * installs it; tests skip with {@link CHROMIUM_MISSING} where it is absent.
 */
import fs from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = process.env.ATTACHE_CHROMIUM ?? '/usr/bin/chromium';

/** A skip reason when there is no Chromium to drive, else false. */
export const CHROMIUM_MISSING: string | false = fs.existsSync(CHROMIUM)
  ? false
  : `no Chromium at ${CHROMIUM} (npm run test:deps installs it)`;

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

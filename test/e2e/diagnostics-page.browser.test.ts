/**
 * The diagnostics page, clicked through in a real browser: Debian's headless Chromium driven by
 * playwright-core against `attache dev`'s admin port. The path an operator takes when a route
 * looks wrong: group → route → the Mapping behind it → its version history → a diff → the event
 * that caused it. Skips (with the reason) where /usr/bin/chromium is absent; `npm run test:deps`
 * installs it. ATTACHE_SCREENSHOT=path writes a screenshot of the group page (the README's).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { Browser, Locator } from 'playwright-core';
import { CHROMIUM_MISSING, launchChromium } from '../harness/chromium.ts';
import { settled, startTestDevPipeline } from '../harness/dev-pipeline.ts';
import { freePort } from '../harness/ports.ts';
import { writeAtomic } from '../harness/write-atomic.ts';

/** The element's text (textContent: the page has no hidden text for innerText to leave out). */
async function text(l: Locator): Promise<string> {
  return (await l.textContent()) ?? '';
}

function mapping(name: string, prefix: string, service: string): string {
  return `apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: { name: ${name}, namespace: default }
spec:
  hostname: "*"
  prefix: ${prefix}
  service: ${service}
`;
}

test('diagnostics page — route → Mapping → version history → diff → event, in headless Chromium', {
  skip: CHROMIUM_MISSING,
}, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-ui-'));
  const [xdsPort, adminPort] = await Promise.all([freePort(), freePort()]);
  const p = await startTestDevPipeline({
    configDirs: [dir],
    cluster: 'site',
    groups: ['default'],
    bind: '127.0.0.1',
    xdsPort,
    adminPort,
    redisPrefix: 'ui:',
  });
  let browser: Browser | undefined;
  try {
    // Two versions of the api Mapping, so its history has a change to diff.
    writeAtomic(path.join(dir, 'api.yaml'), mapping('api', '/api/', 'api-v1'));
    writeAtomic(path.join(dir, 'web.yaml'), mapping('web', '/', 'web'));
    await settled(p);
    writeAtomic(path.join(dir, 'api.yaml'), mapping('api', '/api/', 'api-v2'));
    await settled(p);

    browser = await launchChromium();
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${adminPort}/ui`);

    // Groups → the group's page: its route table names the objects behind each route.
    await page.getByRole('link', { name: 'default', exact: true }).click();
    await page.locator('table.routes').first().waitFor();
    const apiRow = page.locator('tr.route', { hasText: '/api/' }).first();
    assert.match(await text(apiRow), /api.v2/, 'the route table shows the current backend');
    if (process.env.ATTACHE_SCREENSHOT)
      await page.screenshot({ path: process.env.ATTACHE_SCREENSHOT, fullPage: true });

    // Route → the Mapping that produced it.
    await apiRow.locator('a.object', { hasText: 'api' }).first().click();
    await page.waitForURL(/\/ui\/object\?/);
    assert.match(await text(page.locator('h1')), /Mapping.*api/);

    // The Mapping's version history → the diff its second event caused.
    const diffs = page.locator('a.diff');
    assert.ok((await diffs.count()) >= 2, 'two events of the api Mapping, each with a diff');
    // The newest event's diff (the link reads "diff FROM → TO"): the change to api-v2.
    const labels = await diffs.allTextContents();
    const to = labels.map((t) => Number(/→\s*(\d+)/.exec(t)?.[1] ?? -1));
    await diffs.nth(to.indexOf(Math.max(...to))).click();
    await page.waitForURL(/\/ui\/diff\?/);
    const diffText = await text(page.locator('body'));
    assert.match(diffText, /api.v1/, 'the diff shows the old backend');
    assert.match(diffText, /api.v2/, 'the diff shows the new backend');

    // Diff → the event behind it, with who changed what.
    await page.locator('a.event', { hasText: 'Mapping' }).first().click();
    await page.waitForURL(/\/ui\/event\?/);
    const summary = await text(page.locator('#event-summary'));
    assert.match(summary, /upsert/);
    assert.match(summary, /Mapping/);
    assert.match(summary, /api/);
    assert.match(await text(page.locator('pre.changes')), /api.v2/);
  } finally {
    await browser?.close();
    await p.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

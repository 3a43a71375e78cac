// The headless Chromium that the browser tests share: launched on a
// persistent profile with autoplay allowed, one page with a default
// timeout and page errors printed. run() hands the page to the test's
// body, prints the first failure as "failed: REASON" and exits 1 on it,
// 0 otherwise, with the browser closed either way.
import { chromium } from '../../web/node_modules/playwright-core/index.mjs';

export function check(cond, what) {
  if (!cond) throw new Error('check failed: ' + what);
}

export const step = (s) => console.log('step: ' + s);

// Lines of the page's console that tell of a Content-Security-Policy
// violation, and the page's own securitypolicyviolation events, go to
// report(TEXT) (set up before the page's scripts run).
export async function watchCsp(page, report) {
  page.on('console', (m) => {
    if (/Content Security Policy|Content-Security-Policy/i.test(m.text()))
      report(m.text());
  });
  await page.exposeFunction('mspCspViolation', (v) => report(v));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.mspCspViolation(e.violatedDirective + ' ' + e.blockedURI);
    });
  });
}

export async function run(profile, { timeout = 30000, viewport } = {}, body) {
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.MSP_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    ...(viewport ? { viewport } : {}),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
      '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required'],
  });
  let status = 0;
  try {
    const page = ctx.pages()[0] || await ctx.newPage();
    page.setDefaultTimeout(timeout);
    page.on('pageerror', (e) => { console.log('page error: ' + e.message); });
    await body(page, ctx);
  } catch (e) {
    console.log('failed: ' + e.message.split('\n').slice(0, 6).join(' | '));
    status = 1;
  } finally {
    await ctx.close();
  }
  process.exit(status);
}

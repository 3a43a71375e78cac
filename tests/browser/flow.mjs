// The end-to-end flow in a real browser: sign up, upload a clip, wait until
// it is ready, play it (currentTime advances), like it, find it by search.
// usage: node flow.mjs URL CLIP PROFILE_DIR   (prints one line per step)
import { chromium } from '../../web/node_modules/playwright-core/index.mjs';

const [url, clip, profile] = process.argv.slice(2);
const step = (s) => console.log('step: ' + s);
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.MSP_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
    '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync',
    '--autoplay-policy=no-user-gesture-required'],
});
let status = 0;
try {
  const page = ctx.pages()[0] || await ctx.newPage();
  page.setDefaultTimeout(60000);
  page.on('pageerror', (e) => console.log('page error: ' + e.message));
  await page.goto(url + '/#/login');
  await page.fill('#email', 'browser@example.org');
  await page.fill('#password', 'correct horse battery');
  await page.click('#signup');
  await page.waitForFunction(() => document.getElementById('me').textContent === 'browser@example.org');
  step('signed up');

  await page.goto(url + '/#/upload');
  await page.selectOption('#upload-type', 'short');
  await page.fill('#upload-name', 'browserclip');
  await page.setInputFiles('#upload-file', clip);
  await page.click('#upload-submit');
  await page.waitForURL(/#\/video\/[0-9a-z]{26}$/);
  step('uploaded');

  await page.waitForFunction(() => document.getElementById('video-status').textContent === 'ready');
  step('ready');

  await page.waitForFunction(() => {
    const v = document.getElementById('player');
    if (v.paused) v.play().catch(() => {});
    return v.currentTime > 0.5;
  });
  step('playing');

  await page.click('#like');
  await page.waitForFunction(() => document.getElementById('like-count').textContent === '1');
  step('liked');

  await page.fill('#search-input', 'browserclip');
  await page.waitForSelector('#search-results a:text("browserclip")');
  step('found');
} catch (e) {
  console.log('failed: ' + e.message.split('\n')[0]);
  status = 1;
} finally {
  await ctx.close();
}
process.exit(status);

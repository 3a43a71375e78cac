// The web front in a real browser, under its Content-Security-Policy, at a
// phone's size (390x844) and a desktop's (1280x800). The store holds two
// short videos and two long ones (one premium, one rated) made by the test.
// usage: node flow.mjs URL CLIP PROFILE_DIR SHOT_DIR
//   CLIP: a portrait clip to upload; SHOT_DIR: screenshots NAME-SIZE.png
//   MSP_TRANSCODE: the command that transcodes the upload (the server has
//   no workers, so the page shows the upload waiting first)
//   MSP_RAZORPAY_URL, MSP_RAZORPAY_KEY_SECRET: the fake Razorpay API that
//   the stand-in for Checkout pays through
// Prints "step: NAME" per step, "csp violation: ..." for each violation
// and "step: done" at the end; exits 1 on the first failure.
import { execSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { check, run, step, watchCsp } from './browser.mjs';

const [url, clip, profile, shots] = process.argv.slice(2);
const SIZES = { phone: { width: 390, height: 844 }, desktop: { width: 1280, height: 800 } };
const violations = [];

await run(profile, { timeout: 30000, viewport: SIZES.desktop }, async (page) => {
  await watchCsp(page, (v) => {
    violations.push(v);
    console.log('csp violation: ' + v);
  });
  // Razorpay Checkout's script, as loaded from its origin, stands in for
  // the real one: "paying" makes a payment at the fake Razorpay API and
  // hands Checkout's signed proof to the page's handler
  await page.exposeFunction('mspTestPay', async (orderId) => {
    const r = await fetch(process.env.MSP_RAZORPAY_URL + '/_test/payments', {
      method: 'POST', body: JSON.stringify({ order_id: orderId }) });
    const pay = await r.json();
    const sig = createHmac('sha256', process.env.MSP_RAZORPAY_KEY_SECRET)
      .update(orderId + '|' + pay.id).digest('hex');
    return { razorpay_order_id: orderId, razorpay_payment_id: pay.id, razorpay_signature: sig };
  });
  await page.route('https://checkout.razorpay.com/v1/checkout.js', (route) => route.fulfill({
    contentType: 'text/javascript',
    body: 'window.Razorpay = function (o) { this.open = async function () {' +
      ' o.handler(await window.mspTestPay(o.order_id)); }; };',
  }));

  async function shot(name) {
    for (const [size, vp] of Object.entries(SIZES)) {
      await page.setViewportSize(vp);
      await page.waitForTimeout(150); // layout settles after the resize
      await page.screenshot({ path: `${shots}/${name}-${size}.png` });
    }
    await page.setViewportSize(SIZES.desktop);
  }
  const visible = (sel) => page.isVisible(sel);
  const text = (sel) => page.textContent(sel);

  // ---- the policy -----------------------------------------------------
  const resp = await page.goto(url + '/');
  const csp = resp.headers()['content-security-policy'] || '';
  check(/frame-ancestors 'none'/.test(csp), 'frame-ancestors in ' + csp);
  check(/script-src 'self' https:\/\/checkout\.razorpay\.com;/.test(csp), 'script-src in ' + csp);
  check(/style-src 'self';/.test(csp), 'style-src in ' + csp);
  check(!/unsafe-inline|unsafe-eval/.test(csp), 'no unsafe-* in ' + csp);
  step('policy');

  // ---- short feed, signed out ------------------------------------------
  await page.waitForSelector('#short-stage:visible');
  await page.waitForFunction(() => {
    const v = document.getElementById('short-player');
    return v.currentTime > 0.3 && !v.paused;
  });
  check(await page.evaluate(() => document.getElementById('short-player').muted), 'autoplays muted');
  for (const [size, vp] of Object.entries(SIZES)) {
    await page.setViewportSize(vp);
    await page.waitForTimeout(150);
    const g = await page.evaluate(() => {
      const s = document.getElementById('short-stage').getBoundingClientRect();
      const top = document.getElementById('top').getBoundingClientRect();
      return { w: s.width, h: s.height, top: top.height, vw: innerWidth, vh: innerHeight };
    });
    check(Math.abs(g.w / g.h - 9 / 16) < 0.01, `${size}: stage is 9:16 (${g.w}x${g.h})`);
    check(Math.abs(g.h - (g.vh - g.top)) < 2 || Math.abs(g.w - g.vw) < 2,
      `${size}: stage fills the height or the width (${JSON.stringify(g)})`);
  }
  await page.setViewportSize(SIZES.desktop);
  const first = await text('#short-name');
  await page.click('#short-mute');
  check(!(await page.evaluate(() => document.getElementById('short-player').muted)), 'unmuted');
  check(await page.getAttribute('#short-mute', 'aria-label') === 'Mute', 'mute button relabelled');
  await page.click('#short-next');
  await page.waitForFunction((f) => document.getElementById('short-name').textContent !== f, first);
  const second = await text('#short-name');
  await page.click('#short-prev');
  await page.waitForFunction((f) => document.getElementById('short-name').textContent === f, first);
  await page.focus('#short-stage');
  await page.keyboard.press('ArrowDown');
  await page.waitForFunction((s) => document.getElementById('short-name').textContent === s, second);
  await page.keyboard.press('ArrowUp');
  await page.waitForFunction((f) => document.getElementById('short-name').textContent === f, first);
  // swipe up (pointer drag) for the next, down for the previous
  const box = await page.locator('#short-stage').boundingBox();
  const cx = box.x + box.width / 3, cy = box.y + box.height / 2;
  await page.mouse.move(cx, cy + 120);
  await page.mouse.down();
  await page.mouse.move(cx, cy - 60, { steps: 5 });
  await page.mouse.up();
  await page.waitForFunction((s) => document.getElementById('short-name').textContent === s, second);
  await page.mouse.move(cx, cy - 100);
  await page.mouse.down();
  await page.mouse.move(cx, cy + 80, { steps: 5 });
  await page.mouse.up();
  await page.waitForFunction((f) => document.getElementById('short-name').textContent === f, first);
  step('short feed: 9:16, autoplay muted, unmute, buttons, keys, swipe');
  await shot('shorts');

  // ---- sign up ----------------------------------------------------------
  await page.click('#short-like'); // signed out: asks to sign in first
  await page.waitForSelector('#auth:visible');
  await shot('signin');
  await page.fill('#email', 'browser@example.org');
  await page.fill('#password', 'correct horse battery');
  await page.click('#signup');
  await page.waitForFunction(() => document.getElementById('me').textContent === 'browser@example.org');
  await page.waitForSelector('#short-stage:visible');
  step('signed up');
  await page.click('#short-like');
  await page.waitForFunction(() => document.getElementById('short-likes').textContent === '1');
  check(await page.getAttribute('#short-like', 'aria-pressed') === 'true', 'like pressed');
  await page.click('#short-like');
  await page.waitForFunction(() => document.getElementById('short-likes').textContent === '0');
  await page.click('#short-like');
  await page.waitForFunction(() => document.getElementById('short-likes').textContent === '1');
  step('short liked, unliked, liked');

  // ---- catalogue ----------------------------------------------------------
  await page.goto(url + '/#/catalog');
  await page.waitForFunction(() => document.querySelectorAll('#catalog-grid .card').length === 2);
  await page.waitForFunction(() => [...document.querySelectorAll('#catalog-grid img')].every((i) => i.complete));
  const cards = await page.$$eval('#catalog-grid .card', (cs) => cs.map((c) => ({
    title: c.querySelector('.card-title').textContent,
    poster: (c.querySelector('.thumb img') || {}).naturalWidth || 0,
    duration: (c.querySelector('.duration') || {}).textContent,
    meta: (c.querySelector('.meta') || {}).textContent,
    badge: !!c.querySelector('.badge'),
    rating: (c.querySelector('.rating') || {}).textContent,
  })));
  const river = cards.find((c) => c.title === 'River at night');
  const harbour = cards.find((c) => c.title === 'Harbour lights');
  check(river && harbour, 'both long videos: ' + JSON.stringify(cards));
  check(river.poster > 0 && harbour.poster > 0, 'posters load (the premium one too)');
  check(river.duration === '0:06', 'duration ' + river.duration);
  check(river.meta === 'Drama \u00b7 English', 'genre and language ' + river.meta);
  check(harbour.meta === 'Thriller \u00b7 Hindi', 'genre and language ' + harbour.meta);
  check(harbour.badge && !river.badge, 'premium badge');
  check(/\u2605{4}\u2606 4\.0 \(1\)/.test(river.rating), 'stars and count ' + river.rating);
  check(harbour.rating === 'Not rated yet', 'unrated ' + harbour.rating);
  await shot('catalog');
  await page.selectOption('#filter-genre', 'drama');
  await page.waitForFunction(() => document.querySelectorAll('#catalog-grid .card').length === 1);
  check(await text('#catalog-grid .card-title') === 'River at night', 'genre filter');
  await page.selectOption('#filter-genre', 'western');
  await page.waitForSelector('#catalog-state[data-state="empty"]');
  check(/No videos match/.test(await text('#catalog-state')), 'empty state');
  await shot('catalog-empty');
  await page.selectOption('#filter-genre', '');
  await page.selectOption('#filter-language', 'hi');
  await page.waitForFunction(() => document.querySelectorAll('#catalog-grid .card').length === 1);
  check(await text('#catalog-grid .card-title') === 'Harbour lights', 'language filter');
  await page.selectOption('#filter-language', '');
  step('catalogue: cards, filters, empty state');
  // loading, then an error with a retry
  let release;
  const held = new Promise((ok) => { release = ok; });
  await page.route('**/long-content/get', async (route) => { await held; await route.abort(); });
  await page.goto(url + '/?pageSize=12#/catalog'); // a new load
  await page.waitForSelector('#catalog-state[data-state="loading"]');
  await shot('catalog-loading');
  release();
  await page.waitForSelector('#catalog-state[data-state="error"]');
  check(await visible('#catalog-retry'), 'retry shown');
  await shot('catalog-error');
  await page.unroute('**/long-content/get');
  await page.click('#catalog-retry');
  await page.waitForFunction(() => document.querySelectorAll('#catalog-grid .card').length === 2);
  check(!(await visible('#catalog-retry')), 'retry gone');
  step('catalogue: loading and error states, retry');
  // paging: one card a page
  await page.goto(url + '/?pageSize=1#/catalog');
  await page.waitForFunction(() => document.querySelectorAll('#catalog-grid .card').length === 1);
  check(await visible('#catalog-more'), 'load more shown');
  await page.click('#catalog-more');
  await page.waitForFunction(() => document.querySelectorAll('#catalog-grid .card').length === 2);
  await page.waitForFunction(() => document.getElementById('catalog-more').hidden ||
    document.querySelectorAll('#catalog-grid .card').length > 2);
  if (!(await page.evaluate(() => document.getElementById('catalog-more').hidden))) {
    await page.click('#catalog-more'); // a last, empty page
    await page.waitForFunction(() => document.getElementById('catalog-more').hidden);
  }
  check(await page.$$eval('#catalog-grid .card', (c) => c.length) === 2, 'two cards in all');
  step('catalogue: load more');

  // ---- search -------------------------------------------------------------
  await page.goto(url + '/#/');
  await page.fill('#search-input', 'river');
  await page.waitForSelector('#search-grid .card-title:text("River at night")');
  await page.waitForFunction(() => [...document.querySelectorAll('#search-grid img')].every((i) => i.complete));
  check(await page.$eval('#search-grid .card img', (i) => i.naturalWidth) > 0, 'result poster');
  check(await page.$$eval('#search-grid .card', (c) => c.length) === 1, 'one hit');
  await page.waitForFunction(() => document.querySelector('#search-state').textContent === '1 video');
  check(await page.isHidden('#search-more'), 'no more results button for one hit');
  await shot('search');
  await page.fill('#search-input', 'qqqzzzx');
  await page.waitForSelector('#search-state[data-state="empty"]');
  await shot('search-empty');
  await page.fill('#search-input', 'cat');
  await page.waitForSelector('#search-grid .card-title:text("Cat on a wall")');
  check(/\u2665 0 likes|\u2665 1 like/.test(await text('#search-grid .card .likes')), 'like count on a short card');
  step('search: cards, empty state');

  // ---- upload, processing, then the player ------------------------------
  await page.goto(url + '/#/upload');
  await shot('upload');
  await page.selectOption('#upload-type', 'short');
  await page.fill('#upload-name', 'browserclip');
  await page.setInputFiles('#upload-file', clip);
  // resumable: the first PATCH is cut, tus-js-client asks the offset and resumes
  const tusCalls = [];
  await page.route('**/files/**', (route) => {
    const m = route.request().method();
    tusCalls.push(m);
    if (m === 'PATCH' && tusCalls.filter((x) => x === 'PATCH').length === 1) return route.abort();
    return route.continue();
  });
  await page.route('**/files/', (route) => { tusCalls.push(route.request().method()); return route.continue(); });
  await page.click('#upload-submit');
  await page.waitForURL(/#\/video\/[0-9a-z]{26}$/);
  await page.unroute('**/files/**');
  await page.unroute('**/files/');
  check(tusCalls[0] === 'POST' && tusCalls.filter((x) => x === 'PATCH').length === 2 &&
    tusCalls.includes('HEAD'), 'tus: create, a cut PATCH, HEAD, PATCH: ' + tusCalls.join(' '));
  step('uploaded with tus, resumed after a cut');
  await page.waitForSelector('#video-processing:visible');
  check(await page.$eval('#video-progress', (p) => p.value) === 0, 'progress at 0');
  check(!(await visible('#player-box')), 'no player yet');
  await shot('processing');
  step('uploaded; processing shown');
  execSync(process.env.MSP_TRANSCODE, { stdio: 'ignore' });
  await page.waitForSelector('#player-box:visible');
  check(!(await visible('#video-processing')), 'processing gone');
  await page.waitForFunction(() => !document.getElementById('player').paused ||
    document.getElementById('play').getAttribute('aria-label') === 'Play');
  if (await page.evaluate(() => document.getElementById('player').paused)) await page.click('#play');
  await page.waitForFunction(() => document.getElementById('player').currentTime > 0.5);
  await page.click('#play');
  await page.waitForFunction(() => document.getElementById('player').paused &&
    document.getElementById('play').getAttribute('aria-label') === 'Play');
  await page.click('#play');
  await page.waitForFunction(() => !document.getElementById('player').paused);
  step('ready and playing');
  // scrubbing previews over the seek bar
  const sb = await page.locator('#seek').boundingBox();
  await page.mouse.move(sb.x + sb.width * 0.7, sb.y + sb.height / 2);
  await page.waitForSelector('#seek-preview:visible');
  const thumb = await page.$eval('#seek-thumb', (t) => ({ bg: t.style.backgroundImage,
    pos: t.style.backgroundPosition, cue: t.dataset.cue, w: t.getBoundingClientRect().width }));
  check(/sprite\.jpg/.test(thumb.bg) && thumb.w > 0, 'sprite tile ' + JSON.stringify(thumb));
  check(thumb.cue === '2', 'the cue under 70% of a 3 s clip ' + JSON.stringify(thumb));
  await shot('video');
  await page.mouse.click(sb.x + sb.width * 0.1, sb.y + sb.height / 2);
  await page.waitForFunction(() => document.getElementById('player').currentTime < 1.5);
  check(await page.isEnabled('#captions') === false && await text('#captions option') === 'No captions',
    'caption selection (none here)');
  await page.click('#like');
  await page.waitForFunction(() => document.getElementById('like-count').textContent === '1');
  step('scrubbing preview, seek, like');

  // ---- rating -------------------------------------------------------------
  await page.goto(url + '/#/search/river');
  await page.click('#search-grid .card-link');
  await page.waitForSelector('#rate:visible');
  await page.waitForSelector('#player-box:visible');
  await page.click('#rate [data-rating="5"]');
  await page.waitForFunction(() => /^4\.50 \/ 5 from 2 ratings$/.test(document.getElementById('rating-avg').textContent));
  check(await page.getAttribute('#rate [data-rating="5"]', 'aria-pressed') === 'true', 'my rating pressed');
  step('rated');

  // ---- captions: the HLS subtitles group, and a search hit in them ---------
  await page.waitForFunction(() => document.querySelectorAll('#captions option').length === 3);
  const capts = await page.$$eval('#captions option', (os) => os.map((o) => o.textContent));
  check(JSON.stringify(capts) === JSON.stringify(['Captions off', 'English', 'Hindi']), 'caption choices ' + capts);
  await page.selectOption('#captions', { label: 'English' });
  if (await page.evaluate(() => document.getElementById('player').paused)) await page.click('#play');
  await page.waitForFunction(() => {
    const tt = [...document.getElementById('player').textTracks];
    return tt.some((t) => t.mode === 'showing' && t.cues && [...t.cues].some((c) => /heron/.test(c.text)));
  });
  await shot('captions');
  step('captions: English and Hindi from the master playlist, English shown');
  await page.goto(url + '/#/search/heron');
  await page.waitForSelector('#search-grid .card .cue');
  const cue = await text('#search-grid .card .cue');
  check(/heron/.test(cue) && /0:02/.test(cue), 'the hit shows its cue: ' + cue);
  check(/\?t=2\.5$/.test(await page.getAttribute('#search-grid .card-link', 'href')), 'the hit links to its cue');
  await shot('search-cue');
  await page.click('#search-grid .card-link');
  await page.waitForURL(/#\/video\/[0-9a-z]{26}\?t=2\.5$/);
  await page.waitForSelector('#player-box:visible');
  await page.waitForFunction(() => document.getElementById('player').currentTime >= 2.4);
  check(await page.evaluate(() => document.getElementById('player').currentTime) < 5.5, 'started at the cue');
  step('search hit in the captions starts playback at its cue');

  // ---- premium: locked, plans, purchase, unlocked --------------------------
  await page.goto(url + '/#/search/harbour');
  await page.click('#search-grid .card-link');
  await page.waitForSelector('#video-locked:visible');
  await page.waitForFunction(() => document.getElementById('locked-poster').complete);
  check(!(await visible('#player-box')), 'no player when locked');
  check(await page.$eval('#locked-poster', (i) => i.naturalWidth) > 0, 'locked poster');
  await shot('locked');
  await page.click('#video-buy');
  await page.waitForSelector('.plan >> nth=3');
  const plans = await page.$$eval('.plan', (ps) => ps.map((p) => p.querySelector('.price').textContent));
  check(JSON.stringify(plans) === JSON.stringify(['\u20b999', '\u20b9289', '\u20b9569', '\u20b9899']), 'plans ' + plans);
  await page.waitForFunction(() => document.getElementById('premium-status').textContent === 'You are not a subscriber.');
  await shot('premium');
  await page.click('.plan[data-months="3"] button');
  await page.waitForFunction(() => /^Premium until \d+ \w+ \d{4}\.$/.test(document.getElementById('premium-status').textContent));
  const until = await text('#premium-status');
  const end = new Date(); end.setMonth(end.getMonth() + 3);
  check(until.includes(String(end.getFullYear())), 'end date ' + until);
  await shot('premium-active');
  step('premium: plans in rupees, bought through Checkout, ' + until);
  await page.goto(url + '/#/search/harbour');
  await page.click('#search-grid .card-link');
  await page.waitForSelector('#player-box:visible');
  check(!(await visible('#video-locked')), 'unlocked');
  if (await page.evaluate(() => document.getElementById('player').paused)) await page.click('#play');
  await page.waitForFunction(() => document.getElementById('player').currentTime > 0.5);
  step('premium video plays');

  // ---- keyboard, labels, focus ---------------------------------------------
  await page.goto(url + '/?pageSize=12#/catalog'); // a new load: focus at the start
  await page.waitForFunction(() => document.querySelectorAll('#catalog-grid .card').length === 2);
  await page.keyboard.press('Tab');
  check(await page.evaluate(() => document.activeElement.id) === 'skip', 'skip link first');
  const seen = new Set();
  for (let i = 0; i < 30; i++) {
    await page.keyboard.press('Tab');
    const f = await page.evaluate(() => {
      const a = document.activeElement;
      if (a === document.body) return null;
      const cs = getComputedStyle(a);
      return { key: a.id || a.getAttribute('href') || a.className, outline: cs.outlineStyle, width: cs.outlineWidth };
    });
    if (f === null) break;
    check(f.outline !== 'none' && f.width !== '0px', 'visible focus on ' + f.key);
    seen.add(f.key);
  }
  for (const k of ['#/catalog', 'search-input', 'filter-genre', 'filter-language'])
    check(seen.has(k), 'reached ' + k + ' by keyboard: ' + [...seen].join(' '));
  check([...seen].some((k) => /^#\/video\//.test(k)), 'cards reached by keyboard');
  const unlabelled = await page.evaluate(() => {
    const bad = [];
    for (const e of document.querySelectorAll('button, input, select, textarea, a[href], video')) {
      const name = (e.getAttribute('aria-label') || '').trim() || (e.labels && [...e.labels].map((l) => l.textContent).join('').trim()) ||
        (e.tagName === 'A' || e.tagName === 'BUTTON' ? e.textContent.trim() : '');
      if (!name) bad.push(e.id || e.outerHTML.slice(0, 60));
    }
    return bad;
  });
  check(unlabelled.length === 0, 'unlabelled controls: ' + unlabelled.join(', '));
  step('keyboard reachable, visible focus, labelled controls');

  check(violations.length === 0, violations.length + ' CSP violations');
  step('no CSP violation');
  step('done');
});

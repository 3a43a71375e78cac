// dash.js plays msp's MPEG-DASH manifest in a real browser, on the web
// front's page and so under its Content-Security-Policy: every rung is
// listed, the picture and the sound decode, and playback runs to the end;
// then the web front's own player, switched to DASH, plays it, and keeps
// the choice across a reload.
// With "live", the manifest is a dynamic one (written mid-transcode):
// playback must start and go on, with no clock server asked for.
// usage: node dash.mjs URL MPD_PATH PROFILE_DIR [live]
// Prints "step: NAME" per step, "csp violation: ..." for each violation
// and "step: done" at the end; exits 1 on the first failure.
import { run, step, watchCsp } from './browser.mjs';

const [url, mpd, profile, mode] = process.argv.slice(2);
const live = mode === 'live';

await run(profile, { timeout: 30000 }, async (page) => {
  await watchCsp(page, (v) => console.log('csp violation: ' + v));
  if (process.env.MSP_DASH_DEBUG) { page.on('console', (m) => console.log('console: ' + m.text())); await page.addInitScript(() => { window.MSP_DASH_DEBUG = 1; }); }
  await page.goto(url + '/');
  await page.addScriptTag({ url: '/vendor/dash.min.js' });
  step('dash.js loaded');
  // a static manifest: to the end, then through the web front's player
  async function whole(r) {
    if (!r.ended) throw new Error('playback did not reach the end');
    step('ended');
    // the web front's player, switched to DASH on the video page
    const id = /\/hls\/(\w+)\//.exec(mpd)[1];
    const mpds = [];
    page.on('request', (q) => { if (q.url().endsWith('/manifest.mpd')) mpds.push(q.url()); });
    await page.goto(url + '/#/video/' + id);
    await page.waitForSelector('#player-kind:not([hidden])');
    await page.selectOption('#player-kind', 'dash');
    await page.waitForFunction(() => document.getElementById('player').currentTime > 0.5);
    if (mpds.length === 0) throw new Error('the web front did not load the manifest');
    step('web front plays DASH');
    // the choice is kept: a reload plays DASH again
    mpds.length = 0;
    await page.reload();
    await page.waitForFunction(() => document.getElementById('player').currentTime > 0.5);
    if (mpds.length === 0 || await page.inputValue('#player-kind') !== 'dash')
      throw new Error('the DASH choice was not kept');
    step('choice kept');
  }
  const r = await page.evaluate(async ([src, live]) => {
    const v = document.createElement('video');
    v.muted = true;
    document.body.appendChild(v);
    const player = dashjs.MediaPlayer().create();
    // msp's segments carry the picture and the sound together, as its HLS
    // variants do: the browser's MediaCapabilities takes one codec a
    // configuration, MediaSource.isTypeSupported both
    player.updateSettings({ streaming: { capabilities: { useMediaCapabilitiesApi: false } } });
    if (window.MSP_DASH_DEBUG) player.updateSettings({ debug: { logLevel: 4 } });
    const errors = [];
    player.on(dashjs.MediaPlayer.events.ERROR, (e) => {
      errors.push(JSON.stringify(e.error && (e.error.message || e.error.code) || e));
    });
    player.initialize(v, src, true);
    const ended = new Promise((ok) => v.addEventListener('ended', ok));
    const t0 = Date.now();
    // a manifest written mid-transcode may list a second of media only
    const start = live ? 0.3 : 1;
    while (v.currentTime < start && errors.length === 0 && Date.now() - t0 < 20000)
      await new Promise((ok) => setTimeout(ok, 100));
    const reps = (player.getRepresentationsByType('video') || []).map((x) => x.id);
    const info = { reps, width: v.videoWidth, height: v.videoHeight, t: v.currentTime };
    if (live) {
      await new Promise((ok) => setTimeout(ok, 500));
      info.t2 = v.currentTime;
    } else if (errors.length === 0 && v.currentTime >= 1) {
      v.currentTime = Math.max(0, v.duration - 1.5);
      await Promise.race([ended, new Promise((ok) => setTimeout(ok, 20000))]);
    }
    return { ...info, errors, ended: v.ended, duration: v.duration,
      audio: v.webkitAudioDecodedByteCount || 0, video: v.webkitVideoDecodedByteCount || 0 };
  }, [mpd, live]);
  console.log('dash: ' + JSON.stringify(r));
  if (r.errors.length) throw new Error('dash.js: ' + r.errors.join('; '));
  if (r.t < (live ? 0.3 : 1)) throw new Error('playback did not start');
  step('playing');
  if (live && (!(r.t2 > r.t) || r.video === 0)) throw new Error('live playback did not go on');
  if (!live) await whole(r);
  step('done');
});

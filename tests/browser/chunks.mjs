// A long video transcoded in chunks plays straight through in hls.js, in
// headless Chromium, from the page the server gives (its hls.js, under its
// Content-Security-Policy): one buffered range from start to end (no gap
// at a chunk boundary), no stall or hole near a boundary once playing, no
// fatal hls.js error, and the end reached. A stall away from any boundary
// (a busy machine starving the decoder) is printed, not failed.
// usage: node chunks.mjs URL PLAYLIST PROFILE_DIR BOUNDARIES
//   PLAYLIST: the signed path of the master playlist
//   BOUNDARIES: the chunks' start times after the first, comma-separated
// Prints "play: ..." facts and "step: done"; exits 1 on a failure.
import { check, run } from './browser.mjs';

const [url, playlist, profile, bounds] = process.argv.slice(2);
const boundaries = bounds.split(',').map(Number);

await run(profile, { timeout: 60000 }, async (page) => {
  await page.goto(url + '/');
  await page.waitForFunction(() => window.Hls && window.Hls.isSupported());
  const r = await page.evaluate((src) => new Promise((resolve) => {
    const v = document.createElement('video');
    const facts = { errors: [], stalls: [], playing: false, ranges: [] };
    v.muted = true;
    document.body.appendChild(v);
    const h = new Hls({ enableWorker: false, maxBufferLength: 60 });
    h.on(Hls.Events.ERROR, (ev, d) => {
      if (d.fatal || !facts.playing)
        facts.errors.push(d.details + (d.fatal ? ' (fatal)' : '') + ' at ' + v.currentTime.toFixed(3));
      else
        facts.stalls.push([d.details, v.currentTime]);
    });
    v.addEventListener('playing', () => { facts.playing = true; });
    // a stall once playing: a gap or a hole in the stitched stream
    v.addEventListener('waiting', () => { if (facts.playing) facts.stalls.push(['waiting', v.currentTime]); });
    v.addEventListener('progress', () => {
      facts.ranges = [];
      for (let i = 0; i < v.buffered.length; i++)
        facts.ranges.push([v.buffered.start(i), v.buffered.end(i)]);
    });
    v.addEventListener('ended', () => {
      facts.ended = true;
      facts.time = v.currentTime;
      facts.duration = v.duration;
      facts.ranges = [];
      for (let i = 0; i < v.buffered.length; i++)
        facts.ranges.push([v.buffered.start(i), v.buffered.end(i)]);
      facts.frames = v.getVideoPlaybackQuality().totalVideoFrames;
      resolve(facts);
    });
    h.on(Hls.Events.MANIFEST_PARSED, () => { v.playbackRate = 2; v.play().catch((e) => facts.errors.push('play: ' + e.message)); });
    h.loadSource(src);
    h.attachMedia(v);
    setTimeout(() => { facts.timeout = true; facts.time = v.currentTime; resolve(facts); }, 50000);
  }), url + playlist);
  console.log('play: ' + JSON.stringify(r));
  check(!r.timeout, 'the end was reached');
  check(r.ended && r.time >= r.duration - 0.1, 'played to the end');
  check(!r.errors.some((x) => x.includes('fatal')), 'no fatal hls.js error: ' + r.errors.join(', '));
  for (const [what, t] of r.stalls) {
    const b = boundaries.find((x) => Math.abs(t - x) < 0.5);
    check(b === undefined, what + ' at ' + t.toFixed(3) + ' s, by the chunk boundary at ' + b + ' s');
    console.log('play: ' + what + ' at ' + t.toFixed(3) + ' s, away from the chunk boundaries');
  }
  check(r.time >= boundaries[boundaries.length - 1], 'played past the last boundary');
  check(r.ranges.length === 1 && r.ranges[0][0] < 0.1 &&
    r.ranges[0][1] >= r.duration - 0.1, 'one buffered range, start to end');
  console.log('step: done');
});

/* msp web front: plain JavaScript, no framework. Talks to msp-serve's
 * routes with the session cookie; plays HLS with hls.js (or natively), or
 * the MPEG-DASH manifest of the same segments with dash.js when chosen.
 * Runs under a Content-Security-Policy that allows no inline script or
 * style: elements are built with the DOM, styles set through CSSOM. */
'use strict';

const GENRES = ['action', 'adventure', 'animation', 'biography', 'comedy',
  'crime', 'documentary', 'drama', 'family', 'fantasy', 'history', 'horror',
  'kids', 'music', 'musical', 'mystery', 'news', 'reality', 'romance',
  'sci-fi', 'sport', 'talk', 'thriller', 'war', 'western'];
const LANGUAGES = ['ar', 'as', 'bn', 'de', 'el', 'en', 'es', 'fa', 'fr', 'gu',
  'he', 'hi', 'id', 'it', 'ja', 'kn', 'ko', 'ml', 'mr', 'nl', 'or', 'pa', 'pl',
  'pt', 'ru', 'sv', 'ta', 'te', 'th', 'tr', 'ur', 'vi', 'zh'];
/* cards a page asks for; ?pageSize=N overrides (1 to 100) */
const PAGE = (() => {
  const n = Number(new URLSearchParams(location.search).get('pageSize'));
  return n >= 1 && n <= 100 ? Math.floor(n) : 12;
})();

const $ = (id) => document.getElementById(id);
const state = { me: null, shorts: [], shortIdx: 0, shortKey: null,
  shortEnd: false, catalogKey: null, catalogGen: 0, searchFrom: 0,
  searchQ: '', poll: null, hls: {}, dash: {}, video: null, thumbs: null,
  player: localStorage.getItem('msp.player') === 'dash' ? 'dash' : 'hls' };

let langNames = null;
try { langNames = new Intl.DisplayNames(['en'], { type: 'language' }); } catch (e) { langNames = null; }
const language = (c) => { try { return (langNames && c && langNames.of(c)) || c || ''; } catch (e) { return c; } };
const genre = (g) => g.charAt(0).toUpperCase() + g.slice(1);
const rupees = (paise) => new Intl.NumberFormat('en-IN', { style: 'currency',
  currency: 'INR', maximumFractionDigits: paise % 100 ? 2 : 0 }).format(paise / 100);

function clock(s) {
  if (!isFinite(s) || s < 0) s = 0;
  s = Math.floor(s);
  const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, sec = s % 60;
  const mm = h ? String(m).padStart(2, '0') : String(m);
  return (h ? h + ':' : '') + mm + ':' + String(sec).padStart(2, '0');
}

async function api(method, path, body) {
  const opt = { method, headers: {}, credentials: 'same-origin' };
  if (body !== undefined) {
    opt.headers['Content-Type'] = 'application/json';
    opt.body = JSON.stringify(body);
  }
  const r = await fetch(path, opt);
  let data = null;
  try { data = await r.json(); } catch (e) { data = null; }
  if (!r.ok) {
    const err = new Error((data && data.error) || ('HTTP ' + r.status));
    err.status = r.status;
    throw err;
  }
  return data;
}

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'onclick') e.addEventListener('click', v);
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k);
  return e;
}

/* a list's state line: '', 'loading', 'empty' or 'error' */
function setState(id, kind, text) {
  const s = $(id + '-state');
  s.dataset.state = kind;
  s.textContent = text || '';
  const retry = $(id + '-retry');
  if (retry) retry.hidden = kind !== 'error';
}

/* ---- cards ------------------------------------------------------------- */

function stars(avg) {
  const n = Math.round(avg);
  return '\u2605'.repeat(n) + '\u2606'.repeat(5 - n);
}

/* search text with its matched words, [between brackets], as <mark> */
function marked(text) {
  return String(text).split(/\[([^\]]*)\]/).map((p, i) => (i % 2 ? el('mark', null, p) : p));
}

function card(v, extra) {
  const short = v.videoType === 'short';
  const title = v.title || v.name || v.id;
  const thumb = el('div', { class: 'thumb' + (short ? ' portrait' : '') },
    v.posterUrl ? el('img', { src: v.posterUrl, alt: '', loading: 'lazy' })
      : el('span', { class: 'noposter' }, v.status && v.status !== 'ready' ? v.status : 'no picture'),
    v.duration ? el('span', { class: 'duration', 'aria-label': 'duration ' + clock(v.duration) }, clock(v.duration)) : null,
    v.isPremium ? el('span', { class: 'badge' }, 'Premium') : null);
  const href = '#/video/' + v.id + (extra && extra.t !== undefined ? '?t=' + extra.t : '');
  const meta = [];
  if (v.genres && v.genres.length) meta.push(v.genres.map(genre).join(', '));
  if (v.language) meta.push(language(v.language));
  if (short) meta.push('Short');
  const c = el('article', { class: 'card', 'data-id': v.id },
    el('a', { class: 'card-link', href }, thumb, el('h3', { class: 'card-title' }, title)),
    meta.length ? el('p', { class: 'meta' }, meta.join(' \u00b7 ')) : null);
  if (short) {
    const n = v.likes || 0;
    c.append(el('p', { class: 'likes' }, el('span', { class: 'heart', 'aria-hidden': 'true' }, '\u2665'),
      ' ' + n + (n === 1 ? ' like' : ' likes')));
  } else if (v.ratingCount) {
    c.append(el('p', { class: 'rating', 'aria-label': 'rated ' + v.averageRating + ' of 5 by ' + v.ratingCount },
      el('span', { class: 'stars', 'aria-hidden': 'true' }, stars(v.averageRating)),
      el('span', { 'aria-hidden': 'true' }, ' ' + Number(v.averageRating).toFixed(1) + ' (' + v.ratingCount + ')')));
  } else {
    c.append(el('p', { class: 'rating' }, 'Not rated yet'));
  }
  if (extra && extra.cue) c.append(el('p', { class: 'cue' }, ...[].concat(extra.cue)));
  return c;
}

/* ---- player ------------------------------------------------------------ */

/* Premium URLs expire within minutes: every minute the player asks for a
 * fresh token and hls.js loads every later file with it. */
const TOKEN = /\/hls\/(\w+)\/\d+\.[\w-]+\//;
const fresh = {};

function renewToken(m) {
  return setInterval(() => api('GET', '/videos/' + m[1]).then((v) => { const n = TOKEN.exec(v.playbackUrl || ''); if (n) fresh[m[1]] = n[0]; }).catch(() => {}), 60000);
}

/* dash.js, loaded the first time DASH is chosen */
let dashLoad = null;
function loadDash() {
  if (!dashLoad) dashLoad = new Promise((ok, no) => {
    const s = document.createElement('script');
    s.src = '/vendor/dash.min.js';
    s.onload = ok;
    s.onerror = () => { dashLoad = null; no(new Error('dash.js did not load')); };
    document.head.append(s);
  });
  return dashLoad;
}

/* The MPEG-DASH manifest of the same segments, with dash.js. Audio and
 * picture share a segment: MediaSource's type check takes both codecs,
 * MediaCapabilities one only. */
async function playDash(video, url) {
  const key = video.id, m = TOKEN.exec(url);
  if (m) fresh[m[1]] = m[0];
  await loadDash();
  const d = dashjs.MediaPlayer().create();
  d.updateSettings({ streaming: { capabilities: { useMediaCapabilitiesApi: false } } });
  d.addRequestInterceptor((req) => {
    req.url = req.url.replace(TOKEN, (t, id) => fresh[id] || t);
    return Promise.resolve(req);
  });
  if (m) d.renew = renewToken(m);
  d.initialize(video, url, true);
  state.dash[key] = d;
}

function play(video, url, onTracks, dashUrl) {
  const key = video.id, m = TOKEN.exec(url || '');
  if (state.hls[key]) { state.hls[key].destroy(); clearInterval(state.hls[key].renew); delete state.hls[key]; }
  if (state.dash[key]) { state.dash[key].reset(); clearInterval(state.dash[key].renew); delete state.dash[key]; }
  if (!url) { video.removeAttribute('src'); video.load(); return; }
  if (dashUrl && state.player === 'dash' && window.MediaSource) {
    playDash(video, dashUrl).catch((e) => { $('video-error').textContent = e.message; });
    return;
  }
  if (m) fresh[m[1]] = m[0];
  if (window.Hls && Hls.isSupported()) {
    /* no worker: the policy allows no blob: scripts */
    /* captions go to text tracks the page makes (hls.js's own track
     * elements carry a data: URL, which the policy refuses) */
    const h = new Hls({ enableWorker: false, renderTextTracksNatively: false,
      xhrSetup: (xhr, u) => xhr.open('GET', u.replace(TOKEN, (t, id) => fresh[id] || t)) });
    if (m) h.renew = renewToken(m);
    h.loadSource(url);
    h.attachMedia(video);
    clearTracks(video);
    h.on(Hls.Events.NON_NATIVE_TEXT_TRACKS_FOUND, (e, d) => d.tracks.forEach((t) => textTrack(video, t.subtitleTrack)));
    h.on(Hls.Events.CUES_PARSED, (e, d) => {
      const t = d.type === 'subtitles' && d.subtitleTrack ? textTrack(video, d.subtitleTrack) : null;
      if (!t) return;
      if (t.mode === 'disabled') t.mode = 'hidden';
      for (const c of d.cues) if (!t.cues.getCueById(c.id)) t.addCue(c);
    });
    if (onTracks) {
      h.on(Hls.Events.SUBTITLE_TRACKS_UPDATED, () => onTracks(h));
      h.on(Hls.Events.MANIFEST_PARSED, () => onTracks(h));
    }
    state.hls[key] = h;
  } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
    video.src = url;
  }
  video.play().catch(() => {});
}

/* The page's text track for a subtitles playlist, by its name (a video's
 * tracks cannot be removed: they are kept and reused). */
function textTrack(video, st) {
  video.mspTracks = video.mspTracks || {};
  let t = video.mspTracks[st.name];
  if (!t) {
    t = video.addTextTrack('subtitles', st.name, st.lang || '');
    t.mode = 'disabled';
    video.mspTracks[st.name] = t;
  }
  return t;
}

/* a new video: no cue of the one before stays */
function clearTracks(video) {
  for (const t of Object.values(video.mspTracks || {})) {
    t.mode = 'hidden';
    while (t.cues && t.cues.length) t.removeCue(t.cues[0]);
    t.mode = 'disabled';
  }
}

/* ---- account ----------------------------------------------------------- */

async function loadMe() {
  try { state.me = await api('GET', '/me'); } catch (e) { state.me = null; }
  $('me').textContent = state.me ? state.me.email : '';
  $('logout').hidden = !state.me;
  $('signin').hidden = !!state.me;
}

async function auth(signup) {
  const email = $('email').value, password = $('password').value;
  $('auth-error').textContent = '';
  if (!$('auth-form').reportValidity()) return;
  try {
    if (signup) await api('POST', '/auth/signup', { email, password });
    await api('POST', '/auth/login', { email, password });
    await loadMe();
    const to = state.after && state.after !== '#/login' ? state.after : '#/';
    state.after = null;
    if (location.hash === to) route(); else location.hash = to;
  } catch (e) {
    $('auth-error').textContent = e.message;
  }
}

function needLogin() {
  if (state.me) return false;
  state.after = location.hash || '#/';
  location.hash = '#/login';
  return true;
}

/* ---- sections ---------------------------------------------------------- */

function show(id) {
  for (const s of document.querySelectorAll('main > section')) s.hidden = s.id !== id;
  for (const a of document.querySelectorAll('.top nav a')) {
    if (a.dataset.nav === id) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (id !== 'video' && state.poll) { clearTimeout(state.poll); state.poll = null; }
  if (id !== 'shorts') $('short-player').pause();
  if (id !== 'video') $('player').pause();
}

/* after a navigation, keyboard focus goes to the new page's heading */
function focusHeading(id) {
  const h = document.querySelector('#' + id + ' h1');
  if (h && state.navigated) h.focus({ preventScroll: true });
}

/* ---- short feed -------------------------------------------------------- */

async function shorts() {
  show('shorts');
  if (state.shorts.length === 0) {
    setState('short', 'loading', 'Loading short videos\u2026');
    try { await moreShorts(); } catch (e) { setState('short', 'error', 'Could not load short videos: ' + e.message); return; }
  }
  showShort();
  if (state.navigated) $('short-stage').focus({ preventScroll: true });
}

async function moreShorts() {
  const body = { limit: PAGE };
  if (state.shortKey) body.LastEvaluatedKey = state.shortKey;
  const page = await api('POST', '/short-content/get', body);
  state.shorts.push(...page.Items);
  state.shortKey = page.LastEvaluatedKey || null;
  state.shortEnd = !page.LastEvaluatedKey;
}

function showShort() {
  const v = state.shorts[state.shortIdx];
  $('short-stage').hidden = !v;
  if (!v) { setState('short', 'empty', 'No short videos yet.'); return; }
  setState('short', '', '');
  $('short-name').textContent = v.name || v.title || '';
  $('short-likes').textContent = v.likes || 0;
  $('short-like').setAttribute('aria-pressed', v.mine ? 'true' : 'false');
  $('short-like').setAttribute('aria-label', (v.mine ? 'Unlike' : 'Like') + ', ' + (v.likes || 0) + ' likes');
  $('short-pos').textContent = (state.shortIdx + 1) + ' / ' + state.shorts.length + (state.shortEnd ? '' : '+');
  $('short-prev').disabled = state.shortIdx === 0;
  $('short-next').disabled = state.shortEnd && state.shortIdx + 1 >= state.shorts.length;
  const p = $('short-player');
  p.poster = v.posterUrl || '';
  p.dataset.id = v.id;
  play(p, v.playbackUrl);
  if (state.me && v.mine === undefined) {
    mineLike(v).then(() => { if (state.shorts[state.shortIdx] === v) showShort(); }).catch(() => {});
  }
}

async function stepShort(d) {
  if (d > 0 && state.shortIdx + 1 >= state.shorts.length && !state.shortEnd) {
    try { await moreShorts(); } catch (e) { setState('short', 'error', e.message); return; }
  }
  const i = state.shortIdx + d;
  if (i < 0 || i >= state.shorts.length) return;
  state.shortIdx = i;
  showShort();
}

function setMuted(m) {
  const p = $('short-player');
  p.muted = m;
  $('short-mute').setAttribute('aria-pressed', m ? 'false' : 'true');
  $('short-mute').setAttribute('aria-label', m ? 'Unmute' : 'Mute');
  $('short-mute').toggleAttribute('data-muted', m);
  if (!m) p.play().catch(() => {});
}

async function mineLike(v) {
  const mine = await api('POST', '/query', { tableName: 'likes', keyConditions: [
    { attributeName: 'videoId', comparisonOperator: 'EQ', attributeValueList: [v.id] }] });
  v.mine = mine.Count > 0;
}

async function likeVideo(v) {
  if (needLogin()) return;
  if (v.mine === undefined) await mineLike(v);
  const r = await api('POST', '/short-content/like',
    { videoId: v.id, status: v.mine ? 'unliked' : 'liked' });
  v.likes = r.likes;
  v.mine = !v.mine;
}

/* swipe up: next; swipe down: previous (pointer events cover touch) */
function swipe(stage) {
  let y0 = null, id = null;
  stage.addEventListener('pointerdown', (e) => {
    if (e.target.closest('button')) return;
    y0 = e.clientY; id = e.pointerId;
  });
  stage.addEventListener('pointerup', (e) => {
    if (y0 === null || e.pointerId !== id) return;
    const dy = e.clientY - y0;
    y0 = null;
    if (Math.abs(dy) > 50) stepShort(dy < 0 ? 1 : -1);
    else if (e.target === $('short-player')) {
      const p = $('short-player');
      if (p.paused) p.play().catch(() => {}); else p.pause();
    }
  });
  stage.addEventListener('pointercancel', () => { y0 = null; });
}

/* ---- catalogue and search ---------------------------------------------- */

async function catalog(more) {
  show('catalog');
  const grid = $('catalog-grid');
  const gen = ++state.catalogGen;
  if (!more) { grid.textContent = ''; state.catalogKey = null; }
  $('catalog-more').hidden = true;
  setState('catalog', 'loading', 'Loading videos\u2026');
  const body = { limit: PAGE };
  const g = $('filter-genre').value, l = $('filter-language').value;
  if (g) { body.filterType = 'Filter By Genre'; body.filterValue = g; }
  else if (l) { body.filterType = 'Filter By Language'; body.filterValue = l; }
  if (state.catalogKey) body.lastEvaluatedKey = state.catalogKey;
  let page;
  try { page = await api('POST', '/long-content/get', body); } catch (e) {
    if (gen === state.catalogGen) setState('catalog', 'error', 'Could not load the catalogue: ' + e.message);
    return;
  }
  if (gen !== state.catalogGen) return;
  for (const v of page.Responses.longVideos) {
    if (g && l && v.language !== l) continue;
    grid.append(card(v));
  }
  state.catalogKey = page.lastEvaluatedKey || null;
  $('catalog-more').hidden = !state.catalogKey;
  if (grid.children.length === 0 && !state.catalogKey)
    setState('catalog', 'empty', g || l ? 'No videos match these filters.' : 'No videos yet.');
  else setState('catalog', '', '');
  if (!more) focusHeading('catalog');
}

let searchTimer = null;
function searchAsYouType() {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    const q = $('search-input').value.trim();
    if (!q) return;
    const h = '#/search/' + encodeURIComponent(q);
    if (location.hash !== h) history.replaceState(null, '', h);
    search(q, false);
  }, 200);
}

async function search(q, more) {
  show('search');
  const grid = $('search-grid');
  if (!more) { grid.textContent = ''; state.searchFrom = 0; state.searchQ = q; }
  if ($('search-input').value.trim() !== q) $('search-input').value = q;
  $('search-more').hidden = true;
  $('search-h').textContent = 'Results for \u201c' + q + '\u201d';
  setState('search', 'loading', 'Searching\u2026');
  /* one hit more than the page says whether there are more; without the
   * count (track_total_hits=false) the search stops at the page */
  const ask = Math.min(PAGE + 1, 100);
  let r;
  try {
    r = await api('GET', '/opensearch?q=' + encodeURIComponent(q) + '&size=' + ask +
      '&from=' + state.searchFrom + '&track_total_hits=false');
  } catch (e) {
    if (state.searchQ === q) setState('search', 'error', 'Search failed: ' + e.message);
    return;
  }
  if (state.searchQ !== q) return;
  const page = r.hits.hits.slice(0, PAGE);
  const further = r.hits.hits.length > PAGE || (ask === PAGE && page.length === PAGE);
  for (const h of page) {
    const s = h._source;
    const extra = {};
    if (s.cue) { extra.t = s.cue.start; extra.cue = ['\u201c', ...marked(s.cue.text), '\u201d at ' + clock(s.cue.start)]; }
    grid.append(card(s, extra));
  }
  state.searchFrom += page.length;
  const shown = state.searchFrom;
  $('search-more').hidden = !further;
  if (grid.children.length === 0) setState('search', 'empty', 'Nothing found for \u201c' + q + '\u201d.');
  else setState('search', '', further ? shown + '+ videos' : shown + (shown === 1 ? ' video' : ' videos'));
}

/* ---- the video page ---------------------------------------------------- */

async function video(id, startAt) {
  show('video');
  $('video-error').textContent = '';
  let v;
  try { v = await api('GET', '/videos/' + id); } catch (e) {
    for (const x of ['video-processing', 'video-locked', 'player-box', 'like', 'rate']) $(x).hidden = true;
    $('video-title').textContent = 'Video unavailable';
    $('video-meta').textContent = '';
    $('video-about').textContent = '';
    $('rating-avg').textContent = '';
    $('video-error').textContent = e.message;
    return;
  }
  if (!location.hash.startsWith('#/video/' + id)) return;
  const first = !state.video || state.video.id !== v.id;
  state.video = v;
  $('video-title').textContent = v.title || v.name || v.id;
  $('video-about').textContent = v.about || '';
  const meta = [];
  if (v.duration) meta.push(clock(v.duration));
  if (v.genres && v.genres.length) meta.push(v.genres.map(genre).join(', '));
  if (v.language) meta.push(language(v.language));
  if (v.isPremium) meta.push('Premium');
  $('video-meta').textContent = meta.join(' \u00b7 ');
  const busy = v.status === 'uploaded' || v.status === 'processing';
  $('video-processing').hidden = !busy;
  if (busy) {
    const pct = v.progress || 0;
    $('video-status').textContent = v.status === 'uploaded' ? 'Waiting to be processed\u2026' : 'Processing\u2026';
    $('video-progress').value = pct;
    $('video-progress-text').textContent = pct + '%';
    state.poll = setTimeout(() => { if (location.hash.startsWith('#/video/' + id)) video(id, startAt); }, 1000);
    $('player-box').hidden = true;
    $('video-locked').hidden = true;
  } else if (v.status === 'failed') {
    $('player-box').hidden = true;
    $('video-locked').hidden = true;
    $('video-error').textContent = 'Processing failed: ' + (v.error || 'unknown error');
  } else {
    $('video-locked').hidden = !v.locked;
    $('locked-poster').hidden = !(v.locked && v.posterUrl);
    if (v.locked && v.posterUrl) $('locked-poster').src = v.posterUrl;
    $('player-box').hidden = !v.playbackUrl;
    $('player-box').classList.toggle('portrait', v.videoType === 'short');
    const p = $('player');
    if (v.playbackUrl && p.dataset.id !== v.id) {
      p.dataset.id = v.id;
      p.poster = v.posterUrl || '';
      captionsReset();
      $('player-kind').hidden = !v.dashUrl;
      $('player-kind').value = state.player;
      play(p, v.playbackUrl, captionTracks, v.dashUrl);
      p.muted = false;
      updateMute();
      loadThumbs(v.thumbnailsUrl);
    }
    if (v.playbackUrl && startAt !== undefined) seekOnLoad(p, startAt);
  }
  const short = v.videoType === 'short';
  $('like').hidden = !short || busy;
  $('rate').hidden = short || busy || !!v.locked;
  if (short) {
    $('like-count').textContent = v.likes || 0;
    if (state.me && v.mine === undefined) await mineLike(v).catch(() => {});
    $('like').setAttribute('aria-pressed', v.mine ? 'true' : 'false');
  } else {
    showRating(v.averageRating, v.ratingCount);
    if (first && state.me && !v.locked) myRating(v).catch(() => {});
    else drawStars(v.myRating || 0);
  }
  if (first) focusHeading('video');
}

function seekOnLoad(p, t) {
  const go = () => { p.currentTime = t; p.play().catch(() => {}); };
  if (p.readyState >= 1) go(); else p.addEventListener('loadedmetadata', go, { once: true });
}

function showRating(avg, count) {
  $('rating-avg').textContent = count ? Number(avg).toFixed(2) + ' / 5 from ' + count +
    (count === 1 ? ' rating' : ' ratings') : 'Not rated yet';
}

async function myRating(v) {
  const r = await api('POST', '/query', { tableName: 'ratings', keyConditions: [
    { attributeName: 'videoId', comparisonOperator: 'EQ', attributeValueList: [v.id] }] });
  v.myRating = r.Count ? r.Items[0].rating : 0;
  drawStars(v.myRating);
}

function drawStars(mine) {
  const box = $('rate');
  box.textContent = '';
  for (let i = 1; i <= 5; i++) {
    box.append(el('button', { type: 'button', 'data-rating': i, 'data-on': i <= mine,
      'aria-pressed': i === mine ? 'true' : 'false',
      'aria-label': 'Rate ' + i + (i === 1 ? ' star' : ' stars'), onclick: () => rate(i) },
    i <= mine ? '\u2605' : '\u2606'));
  }
}

async function rate(i) {
  const v = state.video;
  if (!v || needLogin()) return;
  try {
    const r = await api('POST', '/long-content/rating', { videoId: v.id, rating: i });
    v.myRating = i;
    v.averageRating = r.averageRating;
    v.ratingCount = r.ratingCount;
    showRating(r.averageRating, r.ratingCount);
    drawStars(i);
    const b = $('rate').querySelector('[data-rating="' + i + '"]');
    if (b) b.focus();
  } catch (e) { $('video-error').textContent = e.message; }
}

/* custom controls: the seek bar shows scrubbing previews */
function updateMute() {
  const p = $('player');
  $('mute').setAttribute('aria-pressed', p.muted ? 'true' : 'false');
  $('mute').setAttribute('aria-label', p.muted ? 'Unmute' : 'Mute');
  $('mute').toggleAttribute('data-muted', p.muted);
}

function updateTime() {
  const p = $('player');
  const d = isFinite(p.duration) ? p.duration : (state.video && state.video.duration) || 0;
  $('time').textContent = clock(p.currentTime) + ' / ' + clock(d);
  if (!state.seeking && d > 0) $('seek').value = Math.round(1000 * p.currentTime / d);
  $('seek').setAttribute('aria-valuetext', clock(p.currentTime) + ' of ' + clock(d));
}

function updatePlay() {
  const p = $('player');
  $('play').setAttribute('aria-label', p.paused ? 'Play' : 'Pause');
  $('play').toggleAttribute('data-playing', !p.paused);
}

/* sprite.vtt: cues of "sprite.jpg#xywh=x,y,w,h" */
async function loadThumbs(url) {
  state.thumbs = null;
  if (!url) return;
  try {
    const r = await fetch(url, { credentials: 'same-origin' });
    if (!r.ok) return;
    state.thumbs = parseThumbs(await r.text(), new URL(url, location.href));
  } catch (e) { state.thumbs = null; }
}

function vttTime(s) {
  const p = s.trim().split(':').map(Number);
  return p.length === 3 ? p[0] * 3600 + p[1] * 60 + p[2] : p[0] * 60 + p[1];
}

function parseThumbs(text, base) {
  const cues = [];
  for (const block of text.replace(/\r/g, '').split(/\n\n+/)) {
    const lines = block.split('\n');
    const i = lines.findIndex((l) => l.includes('-->'));
    if (i < 0 || !lines[i + 1]) continue;
    const [a, b] = lines[i].split('-->');
    const ref = new URL(lines[i + 1].trim(), base);
    const m = /^xywh=(\d+),(\d+),(\d+),(\d+)$/.exec(ref.hash.slice(1));
    if (!m) continue;
    ref.hash = '';
    cues.push({ start: vttTime(a), end: vttTime(b.split(' ').filter(Boolean)[0]), url: ref.href,
      x: +m[1], y: +m[2], w: +m[3], h: +m[4] });
  }
  return cues;
}

function preview(frac) {
  const p = $('player');
  const d = isFinite(p.duration) ? p.duration : (state.video && state.video.duration) || 0;
  const box = $('seek-preview');
  if (!(d > 0)) { box.hidden = true; return; }
  frac = Math.min(1, Math.max(0, frac));
  const t = frac * d;
  $('seek-time').textContent = clock(t);
  const th = $('seek-thumb');
  const c = state.thumbs && (state.thumbs.find((q) => t >= q.start && t < q.end) ||
    state.thumbs[state.thumbs.length - 1]);
  if (c) {
    /* the tile, scaled to at most 160x120; the sprite's size from its cues */
    const scale = Math.min(1, 160 / c.w, 120 / c.h);
    const sw = Math.max(...state.thumbs.map((q) => q.x + q.w));
    const sh = Math.max(...state.thumbs.map((q) => q.y + q.h));
    th.hidden = false;
    th.style.width = Math.round(c.w * scale) + 'px';
    th.style.height = Math.round(c.h * scale) + 'px';
    th.style.backgroundImage = 'url("' + c.url + '")';
    th.style.backgroundSize = Math.round(sw * scale) + 'px ' + Math.round(sh * scale) + 'px';
    th.style.backgroundPosition = Math.round(-c.x * scale) + 'px ' + Math.round(-c.y * scale) + 'px';
    th.dataset.cue = c.start;
  } else {
    th.hidden = true;
  }
  const wrap = $('seek-wrap').getBoundingClientRect();
  box.style.left = (frac * wrap.width) + 'px';
  box.hidden = false;
}

function playerControls() {
  const p = $('player'), seek = $('seek');
  $('play').addEventListener('click', () => { if (p.paused) p.play().catch(() => {}); else p.pause(); });
  p.addEventListener('click', () => { if (p.paused) p.play().catch(() => {}); else p.pause(); });
  for (const ev of ['play', 'pause', 'ended']) p.addEventListener(ev, updatePlay);
  for (const ev of ['timeupdate', 'durationchange', 'loadedmetadata']) p.addEventListener(ev, updateTime);
  p.addEventListener('volumechange', updateMute);
  $('mute').addEventListener('click', () => { p.muted = !p.muted; });
  const frac = (e) => {
    const r = seek.getBoundingClientRect();
    return (e.clientX - r.left) / r.width;
  };
  seek.addEventListener('pointermove', (e) => preview(frac(e)));
  seek.addEventListener('pointerleave', () => { if (!state.seeking) $('seek-preview').hidden = true; });
  seek.addEventListener('pointerdown', () => { state.seeking = true; });
  seek.addEventListener('input', () => { state.seeking = true; preview(seek.value / 1000); });
  seek.addEventListener('change', () => {
    const d = isFinite(p.duration) ? p.duration : 0;
    if (d > 0) p.currentTime = d * seek.value / 1000;
    state.seeking = false;
  });
  seek.addEventListener('blur', () => { $('seek-preview').hidden = true; state.seeking = false; });
  $('fullscreen').addEventListener('click', () => {
    const box = $('player-box');
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    else if (box.requestFullscreen) box.requestFullscreen().catch(() => {});
  });
  $('player-kind').addEventListener('change', () => {
    state.player = $('player-kind').value === 'dash' ? 'dash' : 'hls';
    localStorage.setItem('msp.player', state.player);
    const v = state.video, t = p.currentTime;
    if (!v || !v.playbackUrl) return;
    captionsReset();
    play(p, v.playbackUrl, captionTracks, v.dashUrl);
    if (t > 0) seekOnLoad(p, t);
  });
  $('captions').addEventListener('change', () => {
    const i = Number($('captions').value);
    const h = state.hls.player;
    if (h) { h.subtitleTrack = i; h.subtitleDisplay = i >= 0; }
    const tt = p.textTracks;
    for (let k = 0; k < tt.length; k++) {
      const on = h ? tt[k].label === (h.subtitleTracks[i] || {}).name : k === i;
      tt[k].mode = on ? 'showing' : 'disabled';
    }
  });
  document.addEventListener('keydown', (e) => {
    if ($('video').hidden || $('player-box').hidden || e.target.closest('input, select, textarea, button')) return;
    if (e.key === ' ' || e.key === 'k') { e.preventDefault(); if (p.paused) p.play().catch(() => {}); else p.pause(); }
    else if (e.key === 'ArrowRight') p.currentTime += 5;
    else if (e.key === 'ArrowLeft') p.currentTime = Math.max(0, p.currentTime - 5);
    else if (e.key === 'm') p.muted = !p.muted;
  });
}

function captionsReset() {
  const s = $('captions');
  s.textContent = '';
  s.append(el('option', { value: '-1' }, 'No captions'));
  s.disabled = true;
}

function captionTracks(h) {
  const s = $('captions');
  const tracks = h.subtitleTracks || [];
  s.textContent = '';
  s.append(el('option', { value: '-1' }, tracks.length ? 'Captions off' : 'No captions'));
  tracks.forEach((t, i) => s.append(el('option', { value: i, lang: t.lang || undefined },
    t.name || language(t.lang) || 'Track ' + (i + 1))));
  s.disabled = tracks.length === 0;
  s.value = String(h.subtitleTrack >= 0 && h.subtitleDisplay ? h.subtitleTrack : -1);
}

/* ---- upload ------------------------------------------------------------ */

function uploadForm() {
  if (needLogin()) return;
  show('upload');
  const long = $('upload-type').value === 'long';
  for (const e of document.querySelectorAll('.long-only')) e.hidden = !long;
  for (const e of document.querySelectorAll('.short-only')) e.hidden = long;
  focusHeading('upload');
}

function uploadMeta(type, f) {
  const meta = {};
  if (type === 'short') meta.name = $('upload-name').value || f.name;
  else {
    meta.title = $('upload-title').value || f.name;
    meta.about = $('upload-about').value;
    meta.language = $('upload-language').value;
    meta.genres = [...$('upload-genres').selectedOptions].map((o) => o.value);
    meta.isPremium = $('upload-premium').checked;
  }
  return meta;
}

/* resumable (tus, /files/): a dropped connection resumes where the
 * server's offset says; the last byte makes the video */
function upload(ev) {
  ev.preventDefault();
  const type = $('upload-type').value, f = $('upload-file').files[0];
  if (!f) return;
  const meta = uploadMeta(type, f);
  const md = { filename: f.name, filetype: f.type || 'application/octet-stream', videoType: type };
  for (const [k, v] of Object.entries(meta)) md[k] = Array.isArray(v) ? v.join(',') : String(v);
  const bar = $('upload-progress');
  bar.hidden = false;
  bar.value = 0;
  $('upload-submit').disabled = true;
  $('upload-error').textContent = '';
  const done = (err, id) => {
    $('upload-submit').disabled = false;
    if (err) { $('upload-error').textContent = err; return; }
    bar.value = 100;
    location.hash = '#/video/' + id;
  };
  if (!window.tus || !tus.isSupported) return uploadPut(type, f, meta, done);
  const up = new tus.Upload(f, {
    endpoint: '/files/',
    metadata: md,
    retryDelays: [0, 1000, 3000, 5000, 10000],
    removeFingerprintOnSuccess: true,
    onProgress: (sent, total) => { bar.value = 100 * sent / total; },
    onError: (e) => {
      const r = e.originalResponse;
      let msg = e.message;
      try { msg = JSON.parse(r.getBody()).error || msg; } catch (x) { /* not JSON */ }
      done(msg);
    },
    onSuccess: (p) => {
      const id = p && p.lastResponse && p.lastResponse.getHeader('X-Msp-Video');
      if (id) done(null, id); else done('the upload ended without a video');
    },
  });
  state.upload = up;
  up.findPreviousUploads().then((prev) => {
    if (prev.length) up.resumeFromPreviousUpload(prev[0]);
    up.start();
  });
}

/* the original's PUT route, where tus is not available */
function uploadPut(type, f, meta, done) {
  const fd = new FormData();
  fd.append('metadata', JSON.stringify(meta));
  fd.append('file', f, f.name);
  const x = new XMLHttpRequest();
  x.upload.onprogress = (e) => { if (e.lengthComputable) $('upload-progress').value = 100 * e.loaded / e.total; };
  x.onload = () => {
    let r = {};
    try { r = JSON.parse(x.responseText); } catch (e) { r = {}; }
    if (x.status === 202) done(null, r.id); else done(r.error || ('HTTP ' + x.status));
  };
  x.onerror = () => done('upload failed');
  x.open('PUT', '/' + type + '-content/upload');
  x.send(fd);
}

/* ---- premium ----------------------------------------------------------- */

async function premium() {
  show('premium');
  focusHeading('premium');
  $('premium-error').textContent = '';
  const plans = $('plans');
  if (!plans.children.length) {
    try {
      const r = await api('GET', '/premium/plans');
      plans.textContent = '';
      for (const p of r.plans) {
        const per = Math.round(p.amount / p.months);
        plans.append(el('article', { class: 'plan', 'data-months': p.months },
          el('h2', {}, p.months + (p.months === 1 ? ' month' : ' months')),
          el('p', { class: 'price' }, rupees(p.amount)),
          el('p', { class: 'per-month' }, p.months > 1 ? rupees(per) + ' a month' : 'billed once'),
          el('button', { type: 'button', class: 'primary', 'data-months': p.months,
            'aria-label': 'Buy ' + p.months + (p.months === 1 ? ' month' : ' months') + ' for ' + rupees(p.amount),
            onclick: () => buy(p.months) }, 'Buy')));
      }
    } catch (e) { $('premium-error').textContent = 'Could not load the plans: ' + e.message; }
  }
  await premiumStatus();
}

async function premiumStatus() {
  if (!state.me) { $('premium-status').textContent = 'Sign in to buy premium.'; return; }
  try {
    const r = await api('POST', '/query', { tableName: 'subscriptions' });
    const s = r.Items[0];
    const end = s && s.subscriptionEndTimestamp;
    $('premium-status').dataset.active = end > Date.now() ? 'true' : 'false';
    $('premium-status').textContent = end > Date.now()
      ? 'Premium until ' + new Date(end).toLocaleDateString('en-IN', { day: 'numeric', month: 'long', year: 'numeric' }) + '.'
      : 'You are not a subscriber.';
  } catch (e) { $('premium-status').textContent = e.message; }
}

async function buy(months) {
  if (needLogin()) return;
  $('premium-error').textContent = '';
  try {
    const order = await api('POST', '/premium/payment', { months });
    await loadCheckout();
    const rzp = new window.Razorpay({
      key: order.keyId, order_id: order.id, amount: order.amount, currency: order.currency,
      name: 'msp premium', description: months + (months === 1 ? ' month' : ' months'),
      prefill: { email: state.me.email },
      handler: async (resp) => {
        try {
          await api('POST', '/premium/confirm', Object.assign({ id: order.id, months }, resp));
          await premiumStatus();
        } catch (e) { $('premium-error').textContent = e.message; }
      },
    });
    rzp.open();
  } catch (e) { $('premium-error').textContent = e.message; }
}

function loadCheckout() {
  if (window.Razorpay) return Promise.resolve();
  return new Promise((ok, fail) => {
    const s = el('script', { src: 'https://checkout.razorpay.com/v1/checkout.js' });
    s.onload = ok;
    s.onerror = () => fail(new Error('Razorpay Checkout could not be loaded'));
    document.head.append(s);
  });
}

/* ---- routing ----------------------------------------------------------- */

function route() {
  const h = location.hash || '#/';
  let m = /^#\/video\/([0-9a-z]+)(?:\?t=(\d+(?:\.\d+)?))?$/.exec(h);
  if (m) return video(m[1], m[2] !== undefined ? Number(m[2]) : undefined);
  m = /^#\/search\/(.+)$/.exec(h);
  if (m) return search(decodeURIComponent(m[1]), false);
  if (h === '#/catalog') return catalog(false);
  if (h === '#/upload') return uploadForm();
  if (h === '#/premium') return premium();
  if (h === '#/login') { show('auth'); focusHeading('auth'); return undefined; }
  return shorts();
}

/* the header's height, for the feed's full-height stage */
function measureTop() {
  document.documentElement.style.setProperty('--top', $('top').offsetHeight + 'px');
}

function init() {
  for (const g of GENRES) {
    $('filter-genre').append(el('option', { value: g }, genre(g)));
    $('upload-genres').append(el('option', { value: g }, genre(g)));
  }
  for (const l of LANGUAGES) {
    $('filter-language').append(el('option', { value: l }, language(l)));
    $('upload-language').append(el('option', { value: l }, language(l)));
  }
  $('upload-language').value = 'en';
  $('auth-form').addEventListener('submit', (e) => { e.preventDefault(); auth(false); });
  $('signup').addEventListener('click', () => auth(true));
  $('logout').addEventListener('click', async () => {
    try { await api('POST', '/auth/logout', {}); } catch (e) { /* gone already */ }
    await loadMe();
    for (const v of state.shorts) delete v.mine;
    location.hash = '#/';
  });
  $('upload-form').addEventListener('submit', upload);
  $('upload-type').addEventListener('change', uploadForm);
  $('search-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const q = $('search-input').value.trim();
    if (q) location.hash = '#/search/' + encodeURIComponent(q);
  });
  $('search-input').addEventListener('input', searchAsYouType);
  $('search-more').addEventListener('click', () => search(state.searchQ, true));
  $('search-retry').addEventListener('click', () => search(state.searchQ, false));
  $('filter-genre').addEventListener('change', () => catalog(false));
  $('filter-language').addEventListener('change', () => catalog(false));
  $('catalog-more').addEventListener('click', () => catalog(true));
  $('catalog-retry').addEventListener('click', () => catalog(false));
  const likeShort = async () => {
    const v = state.shorts[state.shortIdx];
    if (!v) return;
    try { await likeVideo(v); showShort(); } catch (e) { setState('short', 'error', e.message); }
  };
  $('short-like').addEventListener('click', likeShort);
  $('short-next').addEventListener('click', () => stepShort(1));
  $('short-prev').addEventListener('click', () => stepShort(-1));
  $('short-mute').addEventListener('click', () => setMuted(!$('short-player').muted));
  swipe($('short-stage'));
  document.addEventListener('keydown', (e) => {
    if ($('shorts').hidden || e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.target.closest('input, select, textarea')) return;
    if (e.key === 'ArrowDown' || e.key === 'PageDown' || e.key === 'j') { e.preventDefault(); stepShort(1); }
    else if (e.key === 'ArrowUp' || e.key === 'PageUp' || e.key === 'k') { e.preventDefault(); stepShort(-1); }
    else if (e.key === 'm') setMuted(!$('short-player').muted);
    else if (e.key === 'l') likeShort();
  });
  $('like').addEventListener('click', async () => {
    const v = state.video;
    if (!v) return;
    try {
      await likeVideo(v);
      $('like-count').textContent = v.likes;
      $('like').setAttribute('aria-pressed', v.mine ? 'true' : 'false');
    } catch (e) { $('video-error').textContent = e.message; }
  });
  playerControls();
  captionsReset();
  measureTop();
  window.addEventListener('resize', measureTop);
  window.addEventListener('hashchange', () => { state.navigated = true; route(); });
  loadMe().then(route);
}

init();

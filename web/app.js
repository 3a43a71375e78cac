/* msp web front: plain JavaScript, no framework. Talks to msp-serve's
 * routes with the session cookie; plays HLS with hls.js (or natively). */
'use strict';

const GENRES = ['action', 'adventure', 'animation', 'biography', 'comedy',
  'crime', 'documentary', 'drama', 'family', 'fantasy', 'history', 'horror',
  'kids', 'music', 'musical', 'mystery', 'news', 'reality', 'romance',
  'sci-fi', 'sport', 'talk', 'thriller', 'war', 'western'];
const LANGUAGES = ['ar', 'as', 'bn', 'de', 'el', 'en', 'es', 'fa', 'fr', 'gu',
  'he', 'hi', 'id', 'it', 'ja', 'kn', 'ko', 'ml', 'mr', 'nl', 'or', 'pa', 'pl',
  'pt', 'ru', 'sv', 'ta', 'te', 'th', 'tr', 'ur', 'vi', 'zh'];

const $ = (id) => document.getElementById(id);
const state = { me: null, shorts: [], shortIdx: 0, shortKey: null,
  catalogKey: null, poll: null, hls: {} };

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
    if (k === 'onclick') e.addEventListener('click', v);
    else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
}

/* ---- player ------------------------------------------------------------ */

/* Premium URLs expire within minutes: every minute the player asks for a
 * fresh token and hls.js loads every later file with it. */
const TOKEN = /\/hls\/(\w+)\/\d+\.[\w-]+\//;
const fresh = {};

function play(video, url) {
  const key = video.id, m = TOKEN.exec(url || '');
  if (state.hls[key]) { state.hls[key].destroy(); clearInterval(state.hls[key].renew); delete state.hls[key]; }
  if (!url) { video.removeAttribute('src'); return; }
  if (m) fresh[m[1]] = m[0];
  if (window.Hls && Hls.isSupported()) {
    const h = new Hls({ xhrSetup: (xhr, u) => xhr.open('GET', u.replace(TOKEN, (t, id) => fresh[id] || t)) });
    if (m) h.renew = setInterval(() => api('GET', '/videos/' + m[1]).then((v) => { const n = TOKEN.exec(v.playbackUrl || ''); if (n) fresh[m[1]] = n[0]; }).catch(() => {}), 60000);
    h.loadSource(url);
    h.attachMedia(video);
    state.hls[key] = h;
  } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
    video.src = url;
  }
  video.play().catch(() => {});
}

/* ---- account ----------------------------------------------------------- */

async function loadMe() {
  try { state.me = await api('GET', '/me'); } catch (e) { state.me = null; }
  $('me').textContent = state.me ? state.me.email : '';
  $('logout').hidden = !state.me;
}

async function auth(signup) {
  const email = $('email').value, password = $('password').value;
  $('auth-error').textContent = '';
  try {
    if (signup) await api('POST', '/auth/signup', { email, password });
    await api('POST', '/auth/login', { email, password });
    await loadMe();
    location.hash = state.after || '#/';
    route();
  } catch (e) {
    $('auth-error').textContent = e.message;
  }
}

function needLogin() {
  if (state.me) return false;
  state.after = location.hash;
  show('auth');
  return true;
}

/* ---- sections ---------------------------------------------------------- */

function show(id) {
  for (const s of document.querySelectorAll('main > section')) s.hidden = s.id !== id;
  if (id !== 'video' && state.poll) { clearTimeout(state.poll); state.poll = null; }
  if (id !== 'shorts') $('short-player').pause();
  if (id !== 'video') $('player').pause();
}

async function shorts() {
  show('shorts');
  if (state.shorts.length === 0) await moreShorts();
  showShort();
}

async function moreShorts() {
  const body = { limit: 10 };
  if (state.shortKey) body.LastEvaluatedKey = state.shortKey;
  const page = await api('POST', '/short-content/get', body);
  state.shorts.push(...page.Items);
  state.shortKey = page.LastEvaluatedKey || null;
  state.shortEnd = !page.LastEvaluatedKey;
}

function showShort() {
  const v = state.shorts[state.shortIdx];
  $('short-empty').hidden = !!v;
  $('short-player').hidden = !v;
  if (!v) return;
  $('short-name').textContent = v.name || '';
  $('short-likes').textContent = v.likes || 0;
  play($('short-player'), v.playbackUrl);
}

async function likeVideo(v, countEl) {
  if (needLogin()) return;
  const mine = await api('POST', '/query', { tableName: 'likes', keyConditions: [
    { attributeName: 'videoId', comparisonOperator: 'EQ', attributeValueList: [v.id] }] });
  const r = await api('POST', '/short-content/like',
    { videoId: v.id, status: mine.Count > 0 ? 'unliked' : 'liked' });
  v.likes = r.likes;
  countEl.textContent = r.likes;
}

async function catalog(more) {
  show('catalog');
  const list = $('catalog-list');
  if (!more) { list.textContent = ''; state.catalogKey = null; }
  const body = { limit: 20 };
  const g = $('filter-genre').value, l = $('filter-language').value;
  if (g) { body.filterType = 'Filter By Genre'; body.filterValue = g; }
  else if (l) { body.filterType = 'Filter By Language'; body.filterValue = l; }
  if (state.catalogKey) body.lastEvaluatedKey = state.catalogKey;
  const page = await api('POST', '/long-content/get', body);
  for (const v of page.Responses.longVideos) {
    if (g && l && v.language !== l) continue;
    list.append(el('li', {}, el('a', { href: '#/video/' + v.id }, v.title),
      ' ', v.language, ' ', (v.genres || []).join(', '),
      v.isPremium ? ' \u2605 premium' : '',
      v.ratingCount ? ' \u2014 ' + v.averageRating + '/5' : ''));
  }
  state.catalogKey = page.lastEvaluatedKey || null;
  $('catalog-more').hidden = !state.catalogKey;
}

async function video(id) {
  show('video');
  $('video-error').textContent = '';
  let v;
  try { v = await api('GET', '/videos/' + id); } catch (e) {
    $('video-title').textContent = '';
    $('video-status').textContent = '';
    $('video-error').textContent = e.message;
    return;
  }
  $('video-title').textContent = v.title || v.name || v.id;
  $('video-about').textContent = v.about || '';
  $('video-status').textContent = v.status;
  const busy = v.status === 'uploaded' || v.status === 'processing';
  $('video-progress').hidden = !busy;
  $('video-progress').value = v.progress || 0;
  if (busy) {
    state.poll = setTimeout(() => { if (location.hash === '#/video/' + id) video(id); }, 1000);
    $('player').hidden = true;
    return;
  }
  if (v.status === 'failed') { $('video-error').textContent = v.error || 'transcoding failed'; return; }
  $('video-locked').hidden = !v.locked;
  $('player').hidden = !v.playbackUrl;
  if (v.playbackUrl && $('player').dataset.url !== v.playbackUrl) {
    $('player').dataset.url = v.playbackUrl;
    play($('player'), v.playbackUrl);
  }
  const short = v.videoType === 'short';
  $('like').hidden = !short;
  $('like-count').textContent = v.likes || 0;
  $('like').onclick = () => likeVideo(v, $('like-count')).catch((e) => { $('video-error').textContent = e.message; });
  $('stars').hidden = short;
  $('rating-avg').textContent = short ? '' : (v.ratingCount ? v.averageRating + '/5 (' + v.ratingCount + ')' : 'not rated yet');
  if (!short) {
    const stars = $('stars');
    stars.textContent = '';
    for (let i = 1; i <= 5; i++) {
      stars.append(el('button', { class: 'star', 'data-rating': i, onclick: async () => {
        if (needLogin()) return;
        try {
          const r = await api('POST', '/long-content/rating', { videoId: v.id, rating: i });
          $('rating-avg').textContent = r.averageRating + '/5 (' + r.ratingCount + ')';
        } catch (e) { $('video-error').textContent = e.message; }
      } }, '\u2606'));
    }
  }
}

function uploadForm() {
  if (needLogin()) return;
  show('upload');
  const long = $('upload-type').value === 'long';
  for (const e of document.querySelectorAll('.long-only')) e.hidden = !long;
  for (const e of document.querySelectorAll('.short-only')) e.hidden = long;
}

function upload(ev) {
  ev.preventDefault();
  const type = $('upload-type').value, f = $('upload-file').files[0];
  if (!f) return;
  const meta = {};
  if (type === 'short') meta.name = $('upload-name').value || f.name;
  else {
    meta.title = $('upload-title').value || f.name;
    meta.about = $('upload-about').value;
    meta.language = $('upload-language').value;
    meta.genres = [...$('upload-genres').selectedOptions].map((o) => o.value);
    meta.isPremium = $('upload-premium').checked;
  }
  const fd = new FormData();
  fd.append('metadata', JSON.stringify(meta));
  fd.append('file', f, f.name);
  const x = new XMLHttpRequest();
  const bar = $('upload-progress');
  bar.hidden = false;
  bar.value = 0;
  $('upload-error').textContent = '';
  x.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = 100 * e.loaded / e.total; };
  x.onload = () => {
    let r = {};
    try { r = JSON.parse(x.responseText); } catch (e) { r = {}; }
    if (x.status === 202) { bar.value = 100; location.hash = '#/video/' + r.id; }
    else $('upload-error').textContent = r.error || ('HTTP ' + x.status);
  };
  x.onerror = () => { $('upload-error').textContent = 'upload failed'; };
  x.open('PUT', '/' + type + '-content/upload');
  x.send(fd);
}

let searchTimer = null;
function searchAsYouType() {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(async () => {
    const q = $('search-input').value.trim();
    if (!q) return;
    show('search');
    const list = $('search-results');
    try {
      const r = await api('GET', '/opensearch?q=' + encodeURIComponent(q));
      if ($('search-input').value.trim() !== q) return;
      list.textContent = '';
      for (const h of r.hits.hits) {
        const s = h._source;
        list.append(el('li', {}, el('a', { href: '#/video/' + s.id }, s.title || s.name || s.id),
          ' ', (s.genres || []).join(', ')));
      }
      if (r.hits.hits.length === 0) list.append(el('li', {}, 'no results'));
    } catch (e) {
      list.textContent = e.message;
    }
  }, 200);
}

async function premium() {
  if (needLogin()) return;
  show('premium');
  try {
    const r = await api('POST', '/query', { tableName: 'subscriptions' });
    const s = r.Items[0];
    $('premium-status').textContent = s && s.subscriptionEndTimestamp > Date.now()
      ? 'Premium until ' + new Date(s.subscriptionEndTimestamp).toLocaleDateString()
      : 'You are not a subscriber.';
  } catch (e) { $('premium-status').textContent = e.message; }
}

async function buy(ev) {
  ev.preventDefault();
  $('premium-error').textContent = '';
  const months = Number($('premium-months').value);
  try {
    const order = await api('POST', '/premium/payment', { months });
    await loadCheckout();
    const rzp = new window.Razorpay({
      key: order.keyId, order_id: order.id, amount: order.amount, currency: order.currency,
      name: 'msp premium', description: months + ' months',
      handler: async (resp) => {
        try {
          await api('POST', '/premium/confirm', Object.assign({ id: order.id, months }, resp));
          premium();
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
  const m = /^#\/video\/([0-9a-z]+)$/.exec(h);
  if (m) return video(m[1]);
  if (h === '#/catalog') return catalog(false);
  if (h === '#/upload') return uploadForm();
  if (h === '#/premium') return premium();
  if (h === '#/login') return show('auth');
  return shorts();
}

function init() {
  for (const g of GENRES) {
    $('filter-genre').append(el('option', { value: g }, g));
    $('upload-genres').append(el('option', { value: g }, g));
  }
  for (const l of LANGUAGES) {
    $('filter-language').append(el('option', { value: l }, l));
    $('upload-language').append(el('option', { value: l }, l));
  }
  $('upload-language').value = 'en';
  $('auth-form').addEventListener('submit', (e) => { e.preventDefault(); auth(false); });
  $('signup').addEventListener('click', () => auth(true));
  $('logout').addEventListener('click', async () => {
    try { await api('POST', '/auth/logout', {}); } catch (e) { /* gone already */ }
    await loadMe();
    location.hash = '#/';
  });
  $('upload-form').addEventListener('submit', upload);
  $('upload-type').addEventListener('change', uploadForm);
  $('premium-form').addEventListener('submit', buy);
  $('search-input').addEventListener('input', searchAsYouType);
  $('filter-genre').addEventListener('change', () => catalog(false));
  $('filter-language').addEventListener('change', () => catalog(false));
  $('catalog-more').addEventListener('click', () => catalog(true));
  $('short-like').addEventListener('click', () => {
    const v = state.shorts[state.shortIdx];
    if (v) likeVideo(v, $('short-likes')).catch(() => {});
  });
  $('short-next').addEventListener('click', async () => {
    if (state.shortIdx + 1 >= state.shorts.length && !state.shortEnd) await moreShorts();
    if (state.shortIdx + 1 < state.shorts.length) state.shortIdx++;
    showShort();
  });
  $('short-prev').addEventListener('click', () => {
    if (state.shortIdx > 0) state.shortIdx--;
    showShort();
  });
  window.addEventListener('hashchange', route);
  loadMe().then(() => {
    if (!state.me && !location.hash) show('auth');
    else route();
  });
}

init();

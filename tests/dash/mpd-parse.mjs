// An MPD through mpd-parser (videojs's, independent of msp): prints one
// JSON object with whether the presentation is finished (endList: static)
// and, per Representation, its
// name, size, codecs, init segment and [uri, seconds] of every segment.
// Exits 1 when the parser refuses the manifest or finds no representation.
// usage: node mpd-parse.mjs FILE.mpd
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { parse } = require('../../web/node_modules/mpd-parser/dist/mpd-parser.cjs.js');

const file = process.argv[2];
let m;
try {
  m = parse(readFileSync(file, 'utf8'), { manifestUri: 'http://msp.test/v/manifest.mpd' });
} catch (e) {
  console.error(`mpd-parse: ${file}: ${e.message}`);
  process.exit(1);
}
const reps = [...(m.playlists || [])];
for (const g of Object.values((m.mediaGroups && m.mediaGroups.AUDIO) || {}))
  for (const x of Object.values(g)) reps.push(...(x.playlists || []));
if (reps.length === 0) {
  console.error(`mpd-parse: ${file}: no representation`);
  process.exit(1);
}
const rel = (u) => u.replace('http://msp.test/v/', '');
console.log(JSON.stringify({
  endList: reps.every((p) => p.endList),
  duration: m.duration,
  minimumUpdatePeriod: m.minimumUpdatePeriod || null,
  reps: reps.map((p) => ({
    name: p.attributes.NAME,
    bandwidth: p.attributes.BANDWIDTH,
    resolution: p.attributes.RESOLUTION || null,
    codecs: p.attributes.CODECS,
    init: p.segments.length ? rel(p.segments[0].map.resolvedUri) : null,
    segments: p.segments.map((s) => [rel(s.resolvedUri), Math.round(s.duration * 1e6) / 1e6]),
  })),
}));

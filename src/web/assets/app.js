// exstreamtv web admin: plain ES module, no build step, no library. Every value from the
// server reaches the page through textContent or DOM properties, never innerHTML.

const main = document.getElementById('main');
const nav = document.getElementById('nav');

// h('tag.class', {props, onclick}, ...children): strings become text nodes.
function h(spec, props, ...kids) {
  const [tag, ...cls] = spec.split('.');
  const el = document.createElement(tag || 'div');
  if (cls.length) el.className = cls.join(' ');
  for (const [k, v] of Object.entries(props || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k in el && k !== 'list' && k !== 'for') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const kid of kids.flat()) {
    if (kid == null || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

class HttpError extends Error {
  constructor(status, detail) { super(detail); this.status = status; this.detail = detail; }
}

let offline = false;
// One request to our API. 401 → the login page; a network failure → the reconnect banner.
async function api(method, path, body) {
  const opts = { method, headers: { 'X-Requested-With': 'exstreamtv' }, credentials: 'same-origin' };
  if (body instanceof FormData) opts.body = body;
  else if (body !== undefined) { opts.body = JSON.stringify(body); opts.headers['Content-Type'] = 'application/json'; }
  let resp;
  try { resp = await fetch(path, opts); } catch (e) { goOffline(); throw new HttpError(0, 'the server is unreachable'); }
  if (resp.status === 401 && !path.startsWith('/api/auth/')) { showLogin('Your session has ended: log in again.'); throw new HttpError(401, 'log in'); }
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = text; }
  if (!resp.ok) throw new HttpError(resp.status, (data && data.detail) || resp.statusText);
  return data;
}
const get = (p) => api('GET', p);

function goOffline() {
  if (offline) return;
  offline = true;
  const banner = h('div.banner', { role: 'status' }, 'The server is unreachable; reconnecting…');
  document.body.prepend(banner);
  const retry = async () => {
    try { const r = await fetch('/api/health/live'); if (r.ok) { offline = false; banner.remove(); render(); return; } } catch (e) { /* still down */ }
    setTimeout(retry, 2000);
  };
  setTimeout(retry, 1000);
}

// --- small widgets ---------------------------------------------------------------------
function field(name, label, opts = {}) {
  const id = 'f-' + (opts.prefix ? opts.prefix + '-' : '') + name;
  const input = opts.options
    ? h('select', { id, name }, opts.options.map(([v, t]) => h('option', { value: v }, t)))
    : h('input', { id, name, type: opts.type || 'text', required: opts.required, placeholder: opts.placeholder || '' });
  if (opts.value != null) { if (input.type === 'checkbox') input.checked = !!opts.value; else input.value = opts.value; }
  return h('div.field', {}, h('label', { htmlFor: id }, label), input, h('span.err', { id: id + '-err', role: 'alert' }));
}

// Collects a form's fields: numbers for type=number, booleans for checkboxes, '' skipped.
function values(form) {
  const out = {};
  for (const el of form.querySelectorAll('input,select,textarea')) {
    if (!el.name || el.type === 'file') continue;
    if (el.type === 'checkbox') out[el.name] = el.checked;
    else if (el.value === '') continue;
    else if (el.type === 'number') out[el.name] = Number(el.value);
    else out[el.name] = el.value;
  }
  return out;
}

// Shows an error: a 422 "field: problem" beside that field, anything else at the form's end.
function showError(form, err) {
  for (const e of form.querySelectorAll('.err')) e.textContent = '';
  const m = /^([\w.]+): (.*)$/.exec(err.detail || '');
  const name = m && m[1].split('.').pop();
  const input = name && form.querySelector(`[name="${CSS.escape(name)}"]`);
  const slot = input && input.parentElement.querySelector('.err');
  if (err.status === 422 && slot) slot.textContent = m[2];
  else form.querySelector('.form-err').textContent = err.detail || String(err);
}

function form(fields, submitLabel, onsubmit) {
  const f = h('form', {}, fields, h('button', { type: 'submit' }, submitLabel), h('p.form-err.err', { role: 'alert' }));
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    for (const e of f.querySelectorAll('.err')) e.textContent = '';
    try { await onsubmit(values(f), f); } catch (e) { if (e.status !== 401) showError(f, e); }
  });
  return f;
}

function table(heads, rows) {
  return h('div.scroll', {}, h('table', {}, h('thead', {}, h('tr', {}, heads.map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c)))))));
}

const empty = (text) => h('p.empty', {}, text);
const section = (title, ...kids) => h('section', {}, h('h2', {}, title), kids);
const when = (ms) => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
const mb = (b) => (b / 1048576).toFixed(1) + ' MB';
const list = (d) => (Array.isArray(d) ? d : (d && (d.items || d.entries)) || []);

// A line chart of numbers as inline SVG.
function chart(label, points, unit) {
  const w = 300, hgt = 60, max = Math.max(1, ...points);
  const xy = points.map((v, i) => `${(i * w) / Math.max(1, points.length - 1)},${hgt - (v / max) * (hgt - 4) - 2}`).join(' ');
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${w} ${hgt}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  const line = document.createElementNS(ns, 'polyline');
  line.setAttribute('points', xy);
  svg.append(line);
  const last = points.length ? points[points.length - 1] : 0;
  return h('figure.chart', {}, h('figcaption', {}, `${label}: ${Number(last).toFixed(1)}${unit}`), svg);
}

// --- pages -----------------------------------------------------------------------------
const samples = { cpu: [], rss: [], viewers: [] };
let timer = null;
const every = (ms, fn) => { clearInterval(timer); timer = setInterval(fn, ms); };

async function dashboard(el) {
  const stats = h('div'), streams = h('div'), activity = h('div'), hist = h('div');
  el.append(section('Now', stats), section('Live streams', streams), section('Over time', hist), section('Recent activity', activity));
  const tick = async () => {
    const [s, live] = await Promise.all([get('/api/performance/stats'), get('/api/dashboard/active-streams')]);
    samples.cpu.push(s.cpu_percent || 0); samples.rss.push((s.process_rss_bytes || 0) / 1048576); samples.viewers.push(s.viewers || 0);
    for (const k in samples) if (samples[k].length > 60) samples[k].shift();
    stats.replaceChildren(h('ul.stats', {},
      h('li', {}, 'Viewers: ', String(s.viewers ?? 0)),
      h('li', {}, 'Tuners in use: ', `${s.tuners_in_use ?? 0} / ${s.tuner_count ?? '?'}`),
      h('li', {}, 'FFmpeg processes: ', String(s.ffmpeg_processes ?? 0)),
      h('li', {}, 'Memory: ', mb(s.process_rss_bytes || 0))),
      h('div.charts', {}, chart('CPU', samples.cpu, ' %'), chart('Memory', samples.rss, ' MB'), chart('Viewers', samples.viewers, '')));
    streams.replaceChildren(live.length ? table(['Channel', 'Playing', 'Viewers', 'Mode', 'Bitrate'], live.map((x) =>
      [`${x.channel_number} ${x.channel_name}`, x.current_item || '', String(x.viewers),
        h('span', { title: x.mode_reason || '' }, x.mode || ''), x.bitrate_kbps ? x.bitrate_kbps + ' kbit/s' : '']))
      : empty('Nobody is watching. Open a channel from the Devices page in VLC to start one.'));
  };
  await tick();
  every(5000, () => tick().catch(() => {}));
  const [h1, act] = await Promise.all([get('/api/dashboard/stream-history'), get('/api/dashboard/activity?limit=10')]);
  hist.replaceChildren(chart('Viewers per hour', (h1.hourly_viewers || []).map((p) => p.value), ''),
    chart('Streams per day', (h1.daily_streams || []).map((p) => p.value), ''));
  activity.replaceChildren(act.length ? h('ul', {}, act.map((a) => h('li', {}, `${a.timestamp} — ${a.message}`))) : empty('Nothing yet.'));
}

async function channels(el) {
  const [rows, profiles] = await Promise.all([get('/api/channels'), get('/api/ffmpeg-profiles')]);
  const opts = [['', '(default)'], ...list(profiles).map((p) => [String(p.id), p.name])];
  const editor = h('div');
  const edit = (c) => {
    const fields = [field('number', 'Number', { required: true, value: c && c.number }), field('name', 'Name', { required: true, value: c && c.name }),
      field('group', 'Group', { value: c && c.group }), field('ffmpeg_profile_id', 'Profile', { options: opts, value: c && c.ffmpeg_profile_id != null ? String(c.ffmpeg_profile_id) : '' }),
      field('enabled', 'Enabled', { type: 'checkbox', value: c ? c.enabled : true })];
    const logo = c && h('div.field', {}, h('label', { htmlFor: 'f-logo' }, 'Logo (PNG)'), h('input', { id: 'f-logo', type: 'file', accept: 'image/png' }));
    editor.replaceChildren(section(c ? `Edit channel ${c.number}` : 'New channel', form([...fields, logo], c ? 'Save' : 'Create', async (v, f) => {
      if (v.ffmpeg_profile_id === '') delete v.ffmpeg_profile_id; else if (v.ffmpeg_profile_id) v.ffmpeg_profile_id = Number(v.ffmpeg_profile_id);
      const saved = c ? await api('PUT', `/api/channels/${c.id}`, v) : await api('POST', '/api/channels', v);
      const file = f.querySelector('#f-logo');
      if (file && file.files.length) { const fd = new FormData(); fd.append('file', file.files[0]); await api('POST', `/api/channels/${saved.id}/icon`, fd); }
      render();
    })));
    editor.querySelector('input').focus();
  };
  const now = h('p');
  const screen = h('div.player');
  const body = rows.length ? table(['No.', 'Name', 'Group', 'On', ''], rows.map((c) => [String(c.number), c.name, c.group || '',
    h('button.small', { onclick: async () => { await api('POST', `/api/channels/${c.id}/toggle-enabled`); render(); }, 'aria-label': `Enable or disable ${c.name}` }, c.enabled ? 'on' : 'off'),
    h('span.actions', {}, h('button.small', { onclick: () => edit(c) }, 'Edit'),
      h('button.small', { onclick: () => nowPlaying(c, now) }, 'Now'),
      h('button.small', { onclick: () => watch(c, screen), 'aria-label': `Watch ${c.name} here` }, 'Watch'),
      h('a', { href: `/iptv/channel/${c.number}.ts`, title: 'MPEG-TS, for VLC' }, 'TS'),
      h('button.small.danger', { onclick: async () => { if (confirm(`Delete channel ${c.number}?`)) { await api('DELETE', `/api/channels/${c.id}`); render(); } } }, 'Delete'))]))
    : empty('No channels yet: create one below, then give it a schedule.');
  el.append(section('Channels', h('button', { onclick: () => edit(null) }, 'New channel'), body, now, screen), editor);
}

// The channel's HLS in the page's own <video>: through hls.js (loaded on the first click)
// where the browser has Media Source Extensions, natively where it plays HLS itself
// (Safari), else the link for VLC. Closing or leaving the page ends its requests.
let player = null;
async function watch(c, out) {
  const src = `/iptv/channel/${c.number}.m3u8`;
  const video = h('video', { controls: true, muted: true, autoplay: true, playsInline: true });
  const close = () => { if (player) { player.destroy(); player = null; } out.replaceChildren(); };
  close();
  const Hls = (await import('/ui/assets/vendor/hls.light.min.mjs')).default;
  if (Hls.isSupported()) {
    player = new Hls({ liveSyncDurationCount: 2 });
    player.loadSource(src);
    player.attachMedia(video);
  } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
    video.src = src;
  } else {
    out.replaceChildren(h('p', {}, 'This browser cannot play HLS: open ', h('a', { href: src }, c.name), ' in VLC.'));
    return;
  }
  out.replaceChildren(h('p', {}, `${c.number} ${c.name}`), video, h('button.small', { onclick: close }, 'Close'));
}

async function nowPlaying(c, out) {
  const s = await get(`/api/channels/${c.number}/schedule?hours=1`);
  const p = (s.programmes || [])[0];
  out.textContent = p ? `${c.name}: ${p.title} (${when(Date.parse(p.start))}–${when(Date.parse(p.stop))})` : `${c.name}: ${s.message || 'nothing scheduled'}`;
}

async function guide(el) {
  const hours = 6, start = Date.now() - 30 * 60000, end = start + hours * 3600000;
  const pct = (t) => (((Math.min(Math.max(t, start), end) - start) / (end - start)) * 100).toFixed(3) + '%';
  const chans = (await get('/api/channels')).filter((c) => c.enabled);
  if (!chans.length) { el.append(section('Guide', empty('No enabled channels: create one on the Channels page.'))); return; }
  const detail = h('p.detail', { role: 'status' });
  const grid = h('div.guide', {});
  const head = h('div.grow', {}, h('div.gname', {}, ''), h('div.gline', {}, [0, 1, 2, 3, 4, 5].map((i) => h('span.tick', { style: `left:${pct(start + (i + 0.5) * 3600000)}` }, when(start + (i + 0.5) * 3600000)))));
  grid.append(head);
  const rows = await Promise.all(chans.map((c) => get(`/api/channels/${c.number}/schedule?hours=${hours}`).catch(() => ({ programmes: [] }))));
  chans.forEach((c, i) => {
    const line = h('div.gline', {});
    for (const p of rows[i].programmes || []) {
      const a = Date.parse(p.start), b = Date.parse(p.stop);
      if (b <= start || a >= end) continue;
      line.append(h('button.prog', { style: `left:${pct(a)};width:calc(${pct(b)} - ${pct(a)})`, title: p.title,
        onclick: () => { detail.textContent = `${c.number} ${c.name}: ${p.title}, ${when(a)}–${when(b)}`; } }, p.title));
    }
    grid.append(h('div.grow', {}, h('div.gname', {}, `${c.number} ${c.name}`), line));
  });
  grid.append(h('div.nowline', { style: `left:calc(8rem + (100% - 8rem) * ${(Date.now() - start) / (end - start)})`, 'aria-hidden': 'true' }));
  el.append(section('Guide', detail, h('div.scroll', {}, grid)));
}

let pendingScan = null;

// A Plex, Jellyfin or Emby server: its libraries listed (discover), one added and scanned.
function remoteLibraries() {
  const found = h('div', { 'aria-live': 'polite' });
  const f = form([field('source_type', 'Server', { options: [['plex', 'Plex'], ['jellyfin', 'Jellyfin'], ['emby', 'Emby']] }),
    field('server_url', 'Address', { required: true, placeholder: 'http://192.168.1.10:32400' }),
    field('token', 'Token (Plex) or API key (Jellyfin, Emby)', { type: 'password', required: true })], 'Find its libraries', async (v) => {
    const kind = v.source_type;
    const creds = kind === 'plex' ? { server_url: v.server_url, token: v.token } : { server_url: v.server_url, api_key: v.token };
    const libs = list(await api('POST', `/api/libraries/${kind}/discover`, creds));
    const key = { plex: 'plex_library_key', jellyfin: 'jellyfin_library_id', emby: 'emby_library_id' }[kind];
    found.replaceChildren(libs.length ? table(['Library', 'Kind', ''], libs.map((l) => [l.name, l.type || '',
      h('button.small', { onclick: async () => {
        const kindOf = /show|tv/i.test(l.type || '') ? 'show' : /movie/i.test(l.type || '') ? 'movie' : 'other';
        pendingScan = await api('POST', `/api/libraries/${kind}`, { ...creds, name: l.name, [key]: String(l.key), library_type: kindOf });
        render();
      } }, 'Add')])) : empty('The server has no libraries to add.'));
  });
  return section('Add a Plex, Jellyfin or Emby library', f, found);
}
async function libraries(el) {
  const libs = await get('/api/libraries');
  const progress = h('div');
  const scan = async (l) => {
    const bar = h('progress', { max: 100, value: 0, 'aria-label': `Scan of ${l.name}` }), text = h('span'), errs = h('ul.errors');
    progress.replaceChildren(h('p', {}, `Scanning ${l.name}: `, bar, text), errs);
    // A folder just added is already being scanned (409): then only follow it.
    await api('POST', `/api/libraries/${l.source_type}/${l.id}/scan`).catch((e) => { if (e.status !== 409) throw e; });
    for (;;) {
      const s = await get(`/api/libraries/scan-progress/${l.id}`);
      bar.value = s.percent_complete || 0;
      text.textContent = ` ${Math.round(s.percent_complete || 0)} % (${s.scanned_files}/${s.total_files}, ${s.new_items} new, ${s.errors || 0} errors)`;
      errs.replaceChildren(...(s.recent_errors || []).map((e) => h('li', {}, `${e.path}: ${e.error}`)));
      if (s.status === 'done' || s.status === 'error') { bar.value = s.status === 'done' ? 100 : bar.value; text.textContent += s.status === 'done' ? ' — done' : ' — failed'; return; }
      await new Promise((r) => setTimeout(r, 400));
    }
  };
  el.append(section('Libraries', libs.length ? table(['Name', 'Type', 'Items', 'Status', ''], libs.map((l) => [l.name, `${l.source_type} ${l.library_type}`, String(l.item_count), l.status,
    h('span.actions', {}, h('button.small', { onclick: () => scan(l).catch(() => {}) }, 'Scan'),
      h('button.small.danger', { onclick: async () => { if (confirm(`Remove ${l.name}?`)) { await api('DELETE', `/api/libraries/${l.source_type}/${l.id}`); render(); } } }, 'Remove'))]))
    : empty('No library yet: add a folder of videos below, then scan it.'), progress),
  section('Add a folder', form([field('name', 'Name', { required: true }), field('path', 'Folder on the server', { required: true, placeholder: '/srv/media/movies' }),
    field('library_type', 'Kind', { options: [['other', 'Other'], ['movie', 'Movies'], ['show', 'Shows'], ['music', 'Music']] })], 'Add', async (v) => {
    pendingScan = await api('POST', '/api/libraries/local', v); render();
  })));
  el.append(remoteLibraries());
  // A folder just added: scan it on the fresh page, whose progress bar stays on screen.
  if (pendingScan) { const l = pendingScan; pendingScan = null; scan(l).catch(() => {}); }
  await mediaBrowser(el);
}

async function mediaBrowser(el) {
  const out = h('div'), q = h('input', { id: 'f-search', type: 'search', placeholder: 'title' });
  let skip = 0, asked = 0; const limit = 50;
  const load = async () => {
    // Answers can arrive out of order while someone types: only the newest one is shown.
    const mine = ++asked;
    const d = await get(`/api/media?paginated=true&skip=${skip}&limit=${limit}&search=${encodeURIComponent(q.value)}`);
    if (mine !== asked) return;
    const items = list(d);
    out.replaceChildren(items.length ? table(['Title', 'Type', 'Year', 'Minutes'], items.map((m) => [m.title, m.media_type || '', m.year ? String(m.year) : '', m.duration ? String(Math.round(m.duration / 60)) : '']))
      : empty('No media: add a folder and scan it.'),
    h('p.pager', {}, h('button.small', { disabled: skip === 0, onclick: () => { skip = Math.max(0, skip - limit); load(); } }, 'Previous'),
      ` ${d.total ? `${skip + 1}–${skip + items.length} of ${d.total}` : ''} `,
      h('button.small', { disabled: !d.has_more, onclick: () => { skip += limit; load(); } }, 'Next')));
  };
  q.addEventListener('input', debounce(() => { skip = 0; return load(); }));
  el.append(section('Media', h('div.field', {}, h('label', { htmlFor: 'f-search' }, 'Search'), q), out));
  await load();
}

const opt = (names) => names.map((n) => [n, n.replace(/_/g, ' ')]);

// Generic list + create + delete for the resources below: [path, title, fields, columns, hint].
const RESOURCES = {
  collections: ['/api/collections', 'Collections', [['name', 'Name', { required: true }], ['search_query', 'Smart query (leave empty for a manual collection)']], ['name', 'collection_type', 'item_count'], 'No collections: make one from a search query.'],
  playlists: ['/api/playlists', 'Playlists', [['name', 'Name', { required: true }], ['description', 'Description']], ['name', 'description'], 'No playlists yet.'],
  schedules: ['/api/schedules', 'Schedules', [['name', 'Name', { required: true }]], ['name'], 'No schedules: create one, then give it items.'],
  filler: ['/api/filler-presets', 'Filler presets', [['name', 'Name', { required: true }], ['filler_mode', 'Mode', { options: opt(['duration', 'count', 'pad']) }]], ['name', 'filler_mode'], 'No filler presets.'],
  blocks: ['/api/blocks', 'Blocks', [['name', 'Name', { required: true }], ['start_time', 'Start (HH:MM)', { required: true, placeholder: '20:00' }], ['duration_minutes', 'Minutes', { type: 'number', required: true }]], ['name', 'start_time', 'duration_minutes'], 'No blocks: a block is a time of day and what plays then.'],
  templates: ['/api/templates', 'Templates', [['name', 'Name', { required: true }]], ['name'], 'No templates: a template places blocks over a day.'],
  deco: ['/api/deco', 'Deco', [['name', 'Name', { required: true }], ['deco_type', 'Kind', { options: opt(['bumper', 'commercial', 'station_id', 'promo', 'credits']) }], ['file_path', 'File on the server']], ['name', 'deco_type'], 'No deco: bumpers and breaks between programmes.'],
  watermarks: ['/api/watermarks', 'Watermarks', [['name', 'Name', { required: true }], ['mode', 'Mode', { options: opt(['permanent', 'intermittent', 'none']) }]], ['name', 'mode'], 'No watermarks.'],
};

async function resource(el, key) {
  const [path, title, fields, cols, hint] = RESOURCES[key];
  const rows = list(await get(path));
  const preview = h('p', { role: 'status' }), items = h('div');
  const f = form(fields.map(([n, l, o]) => field(n, l, o)), 'Create', async (v) => {
    if (key === 'collections' && v.search_query) { v.collection_type = 'smart'; }
    await api('POST', path, v); render();
  });
  if (key === 'collections') {
    f.querySelector('#f-search_query').addEventListener('input', debounce(async (ev) => {
      const q = ev.target.value.trim();
      if (!q) { preview.textContent = ''; return; }
      const m = await get(`/api/media/search?q=${encodeURIComponent(q)}&limit=50`);
      preview.textContent = `${m.length}${m.length === 50 ? '+' : ''} matching: ${m.slice(0, 5).map((x) => x.title).join(', ')}`;
    }));
  }
  el.append(section(title, rows.length ? table([...cols, ''], rows.map((r) => [...cols.map((c) => String(r[c] ?? '')),
    h('span.actions', {}, key === 'schedules' && h('button.small', { onclick: () => scheduleItems(r, items).catch(() => {}) }, 'Items'),
      h('button.small.danger', { onclick: async () => { if (confirm(`Delete ${r.name}?`)) { await api('DELETE', `${path}/${r.id}`); render(); } } }, 'Delete'))])) : empty(hint)),
  items, section('New', f, preview));
}

// A schedule's items in order, and a form to append one (what, how much, in which order).
async function scheduleItems(sched, out) {
  const rows = list(await get(`/api/schedule-items?schedule_id=${sched.id}`));
  const f = form([field('collection_type', 'Content', { prefix: 'si', options: opt(['collection', 'smart_collection', 'playlist', 'television_show', 'multi_collection', 'media_item']) }),
    field('collection_id', 'Its id', { prefix: 'si', type: 'number', required: true }),
    field('playout_mode', 'Mode', { prefix: 'si', options: opt(['flood', 'one', 'multiple', 'duration']) }),
    field('playback_order', 'Order', { prefix: 'si', options: opt(['chronological', 'season_episode', 'shuffled', 'random', 'shuffle_in_order']) }),
    field('start_time', 'Fixed start (HH:MM, empty for dynamic)', { prefix: 'si' })], 'Add item', async (v) => {
    v.schedule_id = sched.id;
    if (v.collection_type === 'media_item') { v.media_item_id = v.collection_id; delete v.collection_id; }
    if (v.start_time) v.start_type = 'fixed';
    await api('POST', '/api/schedule-items', v); await scheduleItems(sched, out);
  });
  out.replaceChildren(section(`Items of ${sched.name}`, rows.length ? table(['#', 'Content', 'Mode', 'Order', 'Start', ''], rows.map((r) => [String(r.index), `${r.collection_type} ${r.collection_id ?? r.media_item_id ?? ''}`, r.playout_mode, r.playback_order, r.start_time || 'dynamic',
    h('button.small.danger', { onclick: async () => { await api('DELETE', `/api/schedule-items/${r.id}`); await scheduleItems(sched, out); } }, 'Remove')]))
    : empty('No items: add what this schedule plays.'), f));
}

function debounce(fn) { let t; return (ev) => { clearTimeout(t); t = setTimeout(() => fn(ev).catch(() => {}), 250); }; }

const SECTIONS = ['hdhomerun', 'ffmpeg', 'streaming', 'stream-throttler', 'playout', 'iptv', 'library'];
async function settings(el) {
  for (const name of SECTIONS) {
    const data = await get(`/api/settings/${name}`).catch(() => null);
    if (!data) continue;
    const scalars = Object.entries(data).filter(([, v]) => v === null || typeof v !== 'object');
    el.append(section(name, form(scalars.map(([k, v]) => field(k, k.replace(/_/g, ' '), typeof v === 'boolean' ? { prefix: name, type: 'checkbox', value: v } : { prefix: name, type: typeof v === 'number' ? 'number' : 'text', value: v ?? '' })),
      'Save', async (v, f) => { await api('PUT', `/api/settings/${name}`, v); f.querySelector('.form-err').textContent = 'Saved.'; })));
  }
}

let source = null;
async function logs(el) {
  const out = h('ol.logs', { 'aria-live': 'off' }), level = field('level', 'Level', { options: [['', 'all'], ['DEBUG', 'debug'], ['INFO', 'info'], ['WARNING', 'warning'], ['ERROR', 'error']] });
  const text = field('text', 'Contains'), pause = field('pause', 'Pause', { type: 'checkbox' }), state = h('span.state', { role: 'status' });
  const lv = level.querySelector('select'), tx = text.querySelector('input'), pz = pause.querySelector('input');
  const show = (e) => { const ok = (!lv.value || e.level === lv.value) && (!tx.value || e.raw.includes(tx.value)); const li = h('li.' + (e.level || 'INFO'), {}, e.raw); li.hidden = !ok; out.append(li); if (out.children.length > 1000) out.firstChild.remove(); };
  const refilter = () => { for (const li of out.children) li.hidden = !!((lv.value && !li.classList.contains(lv.value)) || (tx.value && !li.textContent.includes(tx.value))); };
  lv.addEventListener('change', refilter); tx.addEventListener('input', refilter);
  el.append(section('Logs', h('div.row', {}, level, text, pause, state), out));
  for (const e of list(await get('/api/logs/entries?lines=200'))) show(e);
  if (source) source.close();
  source = new EventSource('/api/logs/stream');
  source.onopen = () => { state.textContent = 'live'; };
  // The browser retries by itself; the banner's health poll re-renders once the server is back.
  source.onerror = () => { state.textContent = 'reconnecting…'; if (source.readyState !== EventSource.OPEN) goOffline(); };
  source.onmessage = (m) => { if (pz.checked) return; try { show(JSON.parse(m.data)); } catch (e) { /* a keepalive */ } };
}

function devices(el) {
  const base = location.origin;
  const copy = (value, label) => {
    const input = h('input', { value, readOnly: true, id: 'f-' + label, 'aria-label': label });
    return h('div.copy', {}, h('label', { htmlFor: 'f-' + label }, label), input, h('button.small', { onclick: async (ev) => {
      try { await navigator.clipboard.writeText(value); } catch (e) { input.select(); document.execCommand('copy'); }
      ev.target.textContent = 'Copied';
    } }, 'Copy'));
  };
  el.append(section('Addresses', copy(base, 'HDHomeRun'), copy(`${base}/iptv/channels.m3u`, 'M3U'), copy(`${base}/iptv/xmltv.xml`, 'XMLTV')),
    section('How to add', h('dl', {},
      h('dt', {}, 'Plex'), h('dd', {}, 'Live TV & DVR → Set up → the tuner is found on the LAN; else enter the HDHomeRun address. Guide: XMLTV, the address above.'),
      h('dt', {}, 'Jellyfin'), h('dd', {}, 'Dashboard → Live TV → Tuner devices → HDHomeRun (the address), or M3U tuner; TV guide data providers → XMLTV.'),
      h('dt', {}, 'Channels DVR'), h('dd', {}, 'Settings → Sources → HDHomeRun (found on the LAN), or Custom channels with the M3U and XMLTV addresses.'),
      h('dt', {}, 'VLC'), h('dd', {}, 'Media → Open network stream → the M3U address.'))));
}

// The AI channel creator: a plan from plain words (offline: rules over our library), its
// preview, then create; a conversation when an LLM is configured; the AI settings.
async function ai(el) {
  const [status, settings, personas] = await Promise.all([get('/api/ai/channel/status'), get('/api/ai/settings'),
    get('/api/ai/channel/personas')]);
  const preview = h('div.plan', { 'aria-live': 'polite' });
  const planForm = form([h('div.field', {}, h('label', { htmlFor: 'f-request' }, 'Describe the channel'),
    h('textarea', { id: 'f-request', name: 'request', required: true, rows: 3, placeholder: '90s cartoons on Saturday mornings, sitcoms at night' }),
    h('span.err', { id: 'f-request-err', role: 'alert' }))], 'Plan', async (v) => showPlan(await api('POST', '/api/ai/channel/plan', v), preview));
  const provider = settings.provider === 'none' ? null : `${settings.provider} ${settings.model || ''}`.trim();
  el.append(section('AI channel creator', h('p', {}, 'Plans work without an LLM: they are built from your library\'s genres, years, folders and shows.'),
    planForm, preview),
  section('Conversation', provider ? chat(personas) : empty('No LLM is configured: set a provider below (Ollama or an OpenAI-compatible server on your network) to talk a channel through.')),
  section('AI settings', aiSettings(settings, status)));
}

function showPlan(plan, out) {
  const slots = (plan.schedule && plan.schedule.slots) || [];
  const blocks = plan.blocks || [];
  out.replaceChildren(h('h3', {}, `${plan.channel.number} ${plan.channel.name}`),
    h('p', {}, `${plan.estimated_unique_items} items, ${plan.estimated_content_hours} hours · ${plan.status}`),
    table(['Collection', 'Query', 'Items', 'Hours'], plan.collections.map((c) => [c.name, c.query || '', String(c.items), String(c.hours)])),
    slots.length ? table(['From', 'Collection', 'Label'], slots.map((x) => [x.start_time || 'any time', x.collection, x.label || ''])) : null,
    blocks.length ? table(['Block', 'Start', 'Minutes', 'Collection'], blocks.map((b) => [b.name, b.start_time, String(b.duration_minutes), b.collection])) : null,
    plan.deco ? h('p', {}, `Breaks between programmes from ${plan.deco.source || plan.deco.group}`) : null,
    plan.warnings.length ? h('ul.errors', {}, plan.warnings.map((w) => h('li', {}, w))) : null,
    h('button', { disabled: !plan.is_ready, onclick: async (ev) => {
      ev.target.disabled = true;
      try {
        await api('POST', `/api/ai/channel/plan/${plan.plan_id}/approve`);
        const done = await api('POST', `/api/ai/channel/plan/${plan.plan_id}/execute`);
        out.append(h('p.ok', { role: 'status' }, `Channel ${done.channel_number || plan.channel.number} created: it plays now.`));
      } catch (e) { out.append(h('p.err', { role: 'alert' }, e.detail || String(e))); }
    } }, plan.is_ready ? 'Create this channel' : 'Not ready: see the warnings'));
}

function chat(personas) {
  const log = h('div.chat', { 'aria-live': 'polite' });
  let sid = null;
  const pick = field('persona_id', 'Persona', { options: personas.map((p) => [p.id, p.name]) });
  const f = form([pick, field('message', 'Message', { required: true })], 'Send', async (v, form) => {
    if (!sid) {
      const s = await api('POST', '/api/ai/channel/start-with-persona', { session_id: `ui-${Date.now()}`, persona_id: v.persona_id });
      sid = s.session_id;
      log.append(h('p.bot', {}, s.welcome_message));
    }
    log.append(h('p.me', {}, v.message));
    form.querySelector('[name=message]').value = '';
    const r = await api('POST', '/api/ai/channel/message', { session_id: sid, message: v.message });
    log.append(h('p.bot', {}, r.response));
  });
  return h('div', {}, log, f);
}

function aiSettings(s, status) {
  const result = h('p', { role: 'status' });
  const f = form([
    field('provider', 'Provider', { options: [['none', 'none'], ['ollama', 'Ollama'], ['openai', 'OpenAI-compatible']], value: s.provider }),
    field('base_url', 'Server address', { value: s.base_url }),
    field('model', 'Model', { value: s.model, placeholder: (status.models || []).join(', ') }),
    field('api_key', s.api_key_set ? 'API key (set; type to replace)' : 'API key', { type: 'password' }),
    field('timeout_seconds', 'Timeout (seconds)', { type: 'number', value: s.timeout_seconds }),
  ], 'Save', async (v) => { await api('PUT', '/api/ai/settings', v); result.textContent = 'Saved.'; });
  const test = h('button.small', { type: 'button', onclick: async () => {
    result.textContent = 'Testing…';
    const r = await get('/api/ai/settings/test-connection').catch((e) => ({ message: e.detail }));
    result.textContent = r.success ? `Connected: ${(r.models || []).join(', ') || 'no models'} (${r.latency_ms} ms)` : r.message;
  } }, 'Test connection');
  return h('div', {}, f, test, result);
}

const PAGES = [['dashboard', 'Dashboard', dashboard], ['channels', 'Channels', channels], ['guide', 'Guide', guide], ['libraries', 'Libraries', libraries],
  ...Object.keys(RESOURCES).map((k) => [k, RESOURCES[k][1], (el) => resource(el, k)]),
  ['settings', 'Settings', settings], ['logs', 'Logs', logs], ['devices', 'Devices', devices], ['ai', 'AI', ai]];

// --- login and routing -----------------------------------------------------------------
function showLogin(note) {
  clearInterval(timer);
  if (source) { source.close(); source = null; }
  nav.replaceChildren();
  const f = form([field('token', 'API token', { type: 'password', required: true })], 'Log in', async (v) => {
    await api('POST', '/api/auth/session', { token: v.token }).catch((e) => { throw e.status === 401 ? new HttpError(422, 'token: that is not the API token') : e; });
    render();
  });
  main.replaceChildren(section('Log in', note ? h('p.err', {}, note) : null, f,
    h('p', {}, 'The token is in the file api-token in the server\'s data directory (DATA/api-token), unless EXSTREAMTV_API_TOKEN sets it. On a Pi with the systemd unit: '),
    h('pre', {}, 'sudo cat /var/lib/exstreamtv/api-token')));
  f.querySelector('input').focus();
}

async function render() {
  clearInterval(timer);
  if (player) { player.destroy(); player = null; }
  if (source) { source.close(); source = null; }
  let s;
  try { s = await api('GET', '/api/auth/session'); } catch (e) { return; }
  if (!s.authenticated) { showLogin(); return; }
  const name = (location.hash.replace(/^#\/?/, '') || 'dashboard').split('/')[0];
  const page = PAGES.find((p) => p[0] === name) || PAGES[0];
  nav.replaceChildren(...PAGES.map(([k, t]) => h('a', { href: '#/' + k, 'aria-current': k === page[0] ? 'page' : null }, t)),
    h('button.small', { onclick: async () => { await api('DELETE', '/api/auth/session'); showLogin(); } }, 'Log out'));
  const el = h('div.page', { 'data-page': page[0] });
  main.replaceChildren(el);
  document.title = `${page[1]} · exstreamtv`;
  try { await page[2](el); el.dataset.ready = '1'; el.dataset.readyMs = performance.now().toFixed(1); } catch (e) { if (e.status !== 401 && e.status !== 0) el.append(h('p.err', { role: 'alert' }, `Could not load: ${e.detail || e}`)); }
}

window.addEventListener('hashchange', render);
render();

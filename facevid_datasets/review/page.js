// The review page's script (inlined into index.html by page.py): the clip list and report lines, paged.
const D = JSON.parse(document.getElementById('data').textContent);
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined) continue;
    if (k === 'text') e.textContent = v; else if (k === 'cls') e.className = v;
    else if (k.startsWith('data-')) e.setAttribute(k, v); else e[k] = v;
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k);
  return e;
}
function fmt(v) { return (v === null || v === undefined) ? '' : (typeof v === 'number' ? String(+v.toPrecision(4)) : String(v)); }
function pager(box, state, total, redraw) {
  box.replaceChildren();
  const pages = Math.max(1, Math.ceil(total / state.size));
  state.page = Math.min(state.page, pages - 1);
  const prev = el('button', {text: '\u2190 prev', disabled: state.page === 0, onclick: () => { state.page--; redraw(); }});
  const next = el('button', {text: 'next \u2192', disabled: state.page >= pages - 1, onclick: () => { state.page++; redraw(); }});
  const a = total ? state.page * state.size + 1 : 0, b = Math.min(total, (state.page + 1) * state.size);
  box.append(prev, el('span', {cls: 'pageinfo', text: `page ${state.page + 1} of ${pages} \u00b7 ${a}\u2013${b} of ${total}`}), next);
}

// ---- clips ---------------------------------------------------------------------------------------
const S = {decision: '', stage: '', source: '', field: '', min: '', max: '', q: '', sort: 'group', page: 0, size: 50};
const GROUP_ORDER = [];
if (D.kind === 'curation') {
  for (const s of D.stages) GROUP_ORDER.push('drop:' + s);
  GROUP_ORDER.push('split:scene', 'keep:');
}
const GAUGE = Object.fromEntries((D.gauges || []).map(g => [g.name, g]));
function group(c) { return c.decision + ':' + (c.stage || ''); }
function groupTitle(g) {
  const [d, s] = g.split(':');
  return d === 'keep' ? 'kept' : d === 'split' ? 'split at scene cuts (each segment decided on its own)' : 'dropped at ' + s;
}
function shown() {
  const q = S.q.trim().toLowerCase();
  let xs = D.clips.filter(c => (!S.decision || c.decision === S.decision)
    && (!S.stage || (S.stage === 'none' ? !c.stage : c.stage === S.stage))
    && (!S.source || c.source === S.source)
    && (!q || c.id.toLowerCase().includes(q) || (c.parent || '').toLowerCase() === q)
    && valueOk(c));
  const val = c => (S.field && c.values[S.field] !== undefined) ? c.values[S.field] : null;
  const gi = c => { const i = GROUP_ORDER.indexOf(group(c)); return i < 0 ? GROUP_ORDER.length : i; };
  const byId = (a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  const cmp = {
    group: (a, b) => gi(a) - gi(b) || byId(a, b),
    id: byId,
    duration: (a, b) => (b.duration || 0) - (a.duration || 0) || byId(a, b),
    'value-asc': (a, b) => (val(a) === null) - (val(b) === null) || val(a) - val(b) || byId(a, b),
    'value-desc': (a, b) => (val(a) === null) - (val(b) === null) || val(b) - val(a) || byId(a, b),
  }[S.sort];
  return xs.sort(cmp);
}
function valueOk(c) {
  if (!S.field) return true;
  const v = c.values[S.field];
  if (v === undefined || v === null) return false;
  if (S.min !== '' && v < +S.min) return false;
  if (S.max !== '' && v > +S.max) return false;
  return true;
}
function card(c) {
  const head = el('div', {cls: 'head'}, el('b', {text: c.id}),
    el('span', {cls: 'badge ' + c.decision, text: c.decision + (c.stage ? ' \u00b7 ' + c.stage : '')}),
    el('span', {cls: 'badge', text: c.source}),
    el('span', {cls: 'badge', text: (c.duration === null ? '?' : fmt(c.duration) + ' s') + (c.size ? ' \u00b7 ' + c.size : '')}),
    c.parent ? el('span', {cls: 'badge', text: 'segment of ' + c.parent}) : null,
    el('div', {cls: 'reason', text: c.reason + (c.video ? '  \u2014 ' + c.video + (c.kind === 'segment' ? ` frames ${c.frames[0]}\u2013${c.frames[1]}` : '') : '')}));
  const strip = c.strip ? el('img', {cls: 'strip', src: c.strip, alt: 'frames of ' + c.id})
    : el('div', {cls: 'nostrip', text: c.decision === 'split' ? 'no cut frames' : 'no frames (video unreadable or moved)'});
  const row = ([k, v]) => {
    const g = GAUGE[k];
    return el('tr', {cls: (c.decision === 'drop' && g.stage === c.stage) ? 'decider' : ''},
      el('td', {cls: 'l', text: g.label}), el('td', {text: fmt(v)}), el('td', {cls: 'l', text: k + ' = ' + fmt(g.current)}));
  };
  const all = Object.entries(c.values);
  const key = all.filter(([k]) => c.decision === 'drop' && GAUGE[k].stage === c.stage).map(row);
  const info = (label, text) => el('tr', {}, el('td', {cls: 'l', text: label}), el('td', {cls: 'l', colSpan: 2, text: text}));
  if (c.subtitle_text) key.push(info('text read', c.subtitle_text));
  if (c.sync) key.push(info('lip sync', c.sync));
  if (c.pose) key.push(info('head pose', c.pose));
  const table = el('div', {}, key.length ? el('table', {cls: 'values'}, ...key) : null,
    all.length ? el('details', {}, el('summary', {text: 'every measured value'}), el('table', {cls: 'values'}, ...all.map(row))) : null);
  const curve = c.curve ? el('img', {cls: 'curve', src: c.curve, alt: 'lip-sync offset curve'}) : el('span');
  return el('div', {cls: 'card ' + c.decision, 'data-id': c.id, 'data-group': group(c), 'data-source': c.source}, head, strip, table, curve);
}
function drawClips() {
  const xs = shown();
  for (const b of document.querySelectorAll('#clips .pager')) pager(b, S, xs.length, drawClips);
  const list = document.getElementById('list');
  const part = xs.slice(S.page * S.size, (S.page + 1) * S.size);
  const counts = {};
  for (const c of xs) counts[group(c)] = (counts[group(c)] || 0) + 1;
  const out = [];
  let last = null;
  for (const c of part) {
    if (S.sort === 'group' && group(c) !== last) {
      last = group(c);
      out.push(el('div', {cls: 'group', 'data-group': last, text: `${groupTitle(last)} (${counts[last]})`}));
    }
    out.push(card(c));
  }
  list.replaceChildren(...out);
}
function bindFilters() {
  const f = document.getElementById('filters');
  if (!f) return;
  const opts = (sel, values) => { for (const v of values) sel.append(el('option', {value: v, text: v})); };
  opts(f.querySelector('[name=stage]'), [...new Set(D.clips.map(c => c.stage).filter(Boolean))].sort((a, b) => D.stages.indexOf(a) - D.stages.indexOf(b)));
  f.querySelector('[name=stage]').append(el('option', {value: 'none', text: '(none: kept)'}));
  opts(f.querySelector('[name=source]'), [...new Set(D.clips.map(c => c.source))].sort());
  const field = f.querySelector('[name=field]');
  for (const g of D.gauges) field.append(el('option', {value: g.name, text: g.label + ' (' + g.name + ')'}));
  for (const input of f.querySelectorAll('select,input')) {
    input.addEventListener(input.tagName === 'INPUT' ? 'input' : 'change', () => {
      const v = input.value;
      if (input.name === 'size') S.size = v === 'all' ? 1e9 : +v; else S[input.name] = v;
      S.page = 0; drawClips();
    });
  }
}
function setFilters(values) {
  const f = document.getElementById('filters');
  Object.assign(S, {decision: '', stage: '', source: '', field: '', min: '', max: '', q: ''}, values, {page: 0});
  for (const k of ['decision', 'stage', 'source', 'field', 'min', 'max', 'q']) f.querySelector(`[name=${k}]`).value = S[k];
  drawClips();
  document.getElementById('clips').scrollIntoView();
}
document.addEventListener('click', e => {
  const t = e.target.closest('[data-goto],[data-filter]');
  if (!t) return;
  e.preventDefault();
  if (t.dataset.goto) setFilters({q: t.dataset.goto});
  else setFilters(JSON.parse(t.dataset.filter));
});

// ---- build report --------------------------------------------------------------------------------
function drawReport(box, b) {
  const st = {page: 0, size: 100, status: '', q: ''};
  const pagers = [el('div', {cls: 'pager'}), el('div', {cls: 'pager'})];
  const status = el('select', {name: 'status'}, el('option', {value: '', text: 'all'}));
  for (const s of Object.keys(b.statuses)) status.append(el('option', {value: s, text: `${s} (${b.statuses[s]})`}));
  const q = el('input', {type: 'search', placeholder: 'clip id or file'});
  const body = el('tbody');
  const redraw = () => {
    const qq = st.q.toLowerCase();
    const xs = b.report.filter(r => (!st.status || r.status === st.status) && (!qq || r.clip_id.toLowerCase().includes(qq) || r.file.toLowerCase().includes(qq)));
    for (const p of pagers) pager(p, st, xs.length, redraw);
    body.replaceChildren(...xs.slice(st.page * st.size, (st.page + 1) * st.size).map(r => el('tr', {cls: 'report-line', 'data-status': r.status},
      el('td', {cls: 'l', text: r.status}), el('td', {cls: 'l', text: r.clip_id}), el('td', {cls: 'l', text: r.source}),
      el('td', {cls: 'l', text: r.file + (r.line ? ':' + r.line : '')}), el('td', {cls: 'l', text: r.reason}))));
  };
  status.onchange = () => { st.status = status.value; st.page = 0; redraw(); };
  q.oninput = () => { st.q = q.value; st.page = 0; redraw(); };
  const head = el('tr', {}, ...['status', 'clip', 'source', 'file:line', 'reason'].map(h => el('th', {cls: 'l', text: h})));
  box.append(el('div', {}, el('label', {text: 'status '}, status), ' ', q), pagers[0], el('table', {}, el('thead', {}, head), body), pagers[1]);
  redraw();
}
if (D.kind === 'curation') { bindFilters(); drawClips(); }
for (const box of document.querySelectorAll('.report')) drawReport(box, D.builds[+box.dataset.build]);

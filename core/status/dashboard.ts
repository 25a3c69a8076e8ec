/**
 * The dashboard page served at `/`: one self-contained HTML document (inline CSS and JS, no
 * external asset) that polls `/api/status` every second. With a status token, open
 * `/?token=<token>`: the page keeps the token in sessionStorage, removes it from the address bar
 * and sends it as `Authorization: Bearer` on its requests. Values are put in the page with
 * textContent only, never as HTML.
 */
export function dashboardHtml(): string {
  return PAGE;
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Tunnel status</title>
<link rel="icon" href="data:,">
<style>
  :root { --bg:#f5f6f8; --card:#fff; --ink:#1d2330; --muted:#6b7385; --line:#e3e6ec; --ok:#1f9d55; --warn:#c98a00; --bad:#d64545; --accent:#3b6fd8; }
  * { box-sizing: border-box; }
  body { margin:0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background:var(--bg); color:var(--ink); }
  header { display:flex; flex-wrap:wrap; align-items:center; gap:12px 24px; padding:14px 24px; background:#1d2330; color:#fff; }
  header h1 { margin:0; font-size:18px; font-weight:650; letter-spacing:.2px; }
  header .meta { display:flex; flex-wrap:wrap; gap:6px 18px; color:#c5cbd8; font-size:13px; }
  header .meta b { color:#fff; font-weight:600; }
  header .updated { margin-left:auto; font-size:12px; color:#aab2c3; }
  main { padding:20px 24px 32px; max-width:1500px; }
  section { background:var(--card); border:1px solid var(--line); border-radius:8px; margin-bottom:18px; }
  section h2 { margin:0; padding:10px 16px; font-size:13px; text-transform:uppercase; letter-spacing:.6px; color:var(--muted); border-bottom:1px solid var(--line); }
  .nodes { display:flex; flex-wrap:wrap; gap:8px; padding:12px 16px; }
  .node { border:1px solid var(--line); border-radius:6px; padding:6px 10px; font-size:13px; background:#fafbfc; }
  .node.self { border-color:var(--accent); }
  .node .tag { margin-left:6px; font-size:11px; color:#fff; background:var(--accent); border-radius:4px; padding:1px 5px; }
  table { width:100%; border-collapse:collapse; }
  th, td { text-align:left; padding:9px 12px; border-bottom:1px solid var(--line); vertical-align:middle; white-space:nowrap; }
  th { font-size:12px; color:var(--muted); font-weight:600; background:#fafbfc; }
  td.num, th.num { text-align:right; font-variant-numeric: tabular-nums; }
  tr:last-child td { border-bottom:none; }
  .badge { display:inline-block; padding:2px 8px; border-radius:10px; font-size:12px; font-weight:600; color:#fff; background:var(--muted); }
  .badge.running { background:var(--ok); } .badge.snapshotting { background:var(--accent); }
  .badge.failed { background:var(--bad); } .badge.starting, .badge.stopping { background:var(--warn); }
  .badge.stalled { background:var(--bad); margin-left:4px; }
  .rate { display:flex; align-items:center; justify-content:flex-end; gap:8px; }
  svg.spark { width:90px; height:22px; }
  svg.spark path { fill:none; stroke:var(--accent); stroke-width:1.5; }
  .lag-ok { color:var(--ok); } .lag-warn { color:var(--warn); } .lag-bad { color:var(--bad); font-weight:600; }
  .pos { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size:12px; color:#3a4254; }
  .error { color:var(--bad); max-width:360px; overflow:hidden; text-overflow:ellipsis; font-size:12px; }
  .bar { position:relative; width:140px; height:14px; background:#e8ebf1; border-radius:7px; overflow:hidden; display:inline-block; vertical-align:middle; }
  .bar i { position:absolute; left:0; top:0; bottom:0; background:var(--accent); }
  .barlabel { font-size:12px; color:var(--muted); margin-left:6px; }
  .empty { padding:18px 16px; color:var(--muted); }
  #banner { display:none; margin:0 0 14px; padding:10px 14px; border-radius:6px; background:#fdecec; color:#8c1d1d; border:1px solid #f3c2c2; }
  .summary { display:flex; gap:14px; flex-wrap:wrap; margin-bottom:18px; }
  .stat { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:10px 16px; min-width:150px; }
  .stat .v { font-size:22px; font-weight:650; font-variant-numeric: tabular-nums; }
  .stat .k { font-size:12px; color:var(--muted); text-transform:uppercase; letter-spacing:.5px; }
</style>
</head>
<body>
<header>
  <h1>Tunnel</h1>
  <div class="meta">
    <span>node <b id="node">…</b></span>
    <span>cluster <b id="cluster">…</b></span>
    <span>group <b id="group">…</b></span>
    <span>leader <b id="leader">…</b></span>
    <span>session <b id="session">…</b></span>
  </div>
  <div class="updated" id="updated">loading…</div>
</header>
<main>
  <div id="banner"></div>
  <div class="summary">
    <div class="stat"><div class="k">Tasks</div><div class="v" id="s-tasks">–</div></div>
    <div class="stat"><div class="k">Events / s</div><div class="v" id="s-rate">–</div></div>
    <div class="stat"><div class="k">Max lag</div><div class="v" id="s-lag">–</div></div>
    <div class="stat"><div class="k">Ready</div><div class="v" id="s-ready">–</div></div>
  </div>
  <section>
    <h2>Nodes</h2>
    <div class="nodes" id="nodes"></div>
  </section>
  <section>
    <h2>Tasks</h2>
    <table>
      <thead><tr>
        <th>Task</th><th>Owner</th><th>State</th><th class="num">Events/s</th><th class="num">Events in</th><th class="num">Events out</th>
        <th class="num">Lag</th><th class="num">Behind</th><th class="num">In flight</th><th>Committed position</th><th>Snapshot</th><th>Last error</th>
      </tr></thead>
      <tbody id="tasks"></tbody>
    </table>
    <div class="empty" id="no-tasks" style="display:none">This worker runs no task.</div>
  </section>
</main>
<script>
(function () {
  'use strict';
  var params = new URLSearchParams(location.search);
  var token = params.get('token');
  if (token) {
    try { sessionStorage.setItem('tunnel-token', token); } catch (e) {}
    params.delete('token');
    var rest = params.toString();
    history.replaceState(null, '', location.pathname + (rest ? '?' + rest : '') + location.hash);
  } else {
    try { token = sessionStorage.getItem('tunnel-token'); } catch (e) {}
  }
  var history_ = {};
  var $ = function (id) { return document.getElementById(id); };
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function fmt(n) { return Math.round(n).toLocaleString('en-US'); }
  function fmtRate(n) { return n >= 100 ? fmt(n) : (Math.round(n * 10) / 10).toLocaleString('en-US'); }
  function fmtBytes(b) {
    if (b === null || b === undefined) return '–';
    var u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], i = 0;
    while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }
    return (i === 0 ? b : b.toFixed(1)) + ' ' + u[i];
  }
  function fmtLag(s) { return s < 60 ? s.toFixed(1) + ' s' : s < 3600 ? (s / 60).toFixed(1) + ' min' : (s / 3600).toFixed(1) + ' h'; }
  function pos(p) { return p ? p.file + ':' + p.offset : '–'; }
  function spark(values) {
    var ns = 'http://www.w3.org/2000/svg';
    var svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('class', 'spark'); svg.setAttribute('viewBox', '0 0 90 22'); svg.setAttribute('preserveAspectRatio', 'none');
    if (values.length < 2) values = [0].concat(values.length ? values : [0]);
    var max = Math.max.apply(null, values.concat([1]));
    var d = values.map(function (v, i) {
      var x = values.length < 2 ? 0 : (i / (values.length - 1)) * 90;
      return (i ? 'L' : 'M') + x.toFixed(1) + ',' + (21 - (v / max) * 20).toFixed(1);
    }).join('');
    var path = document.createElementNS(ns, 'path'); path.setAttribute('d', d || 'M0,21L90,21');
    svg.appendChild(path);
    return svg;
  }
  function render(s) {
    $('node').textContent = s.node;
    var c = s.cluster;
    $('cluster').textContent = c ? c.name : 'standalone';
    $('group').textContent = c ? c.group : '–';
    $('leader').textContent = c ? (c.leader || 'none') : s.node;
    $('session').textContent = c ? c.session : 'standalone';
    $('updated').textContent = 'updated ' + new Date(s.time).toLocaleTimeString();
    var nodes = $('nodes'); nodes.textContent = '';
    var list = c ? c.nodes : [{ id: s.node }];
    list.forEach(function (n) {
      var box = el('div', 'node' + (n.id === s.node ? ' self' : ''), n.id);
      if (n.id === s.node) box.title = 'this node';
      if (!c || n.id === c.leader) box.appendChild(el('span', 'tag', 'leader'));
      nodes.appendChild(box);
    });
    var body = $('tasks'); body.textContent = '';
    var total = 0, maxLag = 0;
    s.tasks.forEach(function (t) {
      total += t.eventsPerSecond; maxLag = Math.max(maxLag, t.lagSeconds);
      var h = history_[t.name] || (history_[t.name] = []);
      h.push(t.eventsPerSecond); if (h.length > 60) h.shift();
      var tr = el('tr'); tr.setAttribute('data-task', t.name);
      tr.appendChild(el('td', null, t.name));
      tr.appendChild(el('td', null, t.owner || '–'));
      var st = el('td'); st.appendChild(el('span', 'badge ' + t.state, t.state));
      if (t.stalled) st.appendChild(el('span', 'badge stalled', 'stalled'));
      tr.appendChild(st);
      var rate = el('td', 'num'); var box = el('div', 'rate'); box.appendChild(spark(h)); box.appendChild(el('span', 'v', fmtRate(t.eventsPerSecond)));
      rate.appendChild(box); rate.setAttribute('data-field', 'rate'); tr.appendChild(rate);
      var ein = el('td', 'num', fmt(t.eventsIn)); ein.setAttribute('data-field', 'events-in'); tr.appendChild(ein);
      tr.appendChild(el('td', 'num', fmt(t.eventsOut)));
      tr.appendChild(el('td', 'num ' + (t.lagSeconds < 5 ? 'lag-ok' : t.lagSeconds < 60 ? 'lag-warn' : 'lag-bad'), fmtLag(t.lagSeconds)));
      tr.appendChild(el('td', 'num', fmtBytes(t.lagBytes)));
      tr.appendChild(el('td', 'num', fmt(t.inFlight)));
      tr.appendChild(el('td', 'pos', pos(t.committedPosition)));
      var snap = el('td');
      if (t.snapshot) {
        var pct = t.snapshot.rowsTotal > 0 ? Math.min(100, (100 * t.snapshot.rowsDone) / t.snapshot.rowsTotal) : 0;
        if (t.snapshot.state === 'done') pct = 100;
        var bar = el('span', 'bar'); var fill = el('i'); fill.style.width = pct.toFixed(1) + '%'; bar.appendChild(fill);
        snap.appendChild(bar);
        snap.appendChild(el('span', 'barlabel', t.snapshot.state === 'done' ? 'done, ' + fmt(t.snapshot.rowsDone) + ' rows' : fmt(t.snapshot.rowsDone) + ' / ~' + fmt(t.snapshot.rowsTotal)));
      } else snap.textContent = '–';
      tr.appendChild(snap);
      var err = el('td', 'error', t.lastError || ''); if (t.lastError) err.title = t.lastError; tr.appendChild(err);
      body.appendChild(tr);
    });
    $('no-tasks').style.display = s.tasks.length ? 'none' : 'block';
    $('s-tasks').textContent = s.tasks.length;
    $('s-rate').textContent = fmtRate(total);
    $('s-lag').textContent = fmtLag(maxLag);
    $('s-ready').textContent = s.ready ? 'yes' : 'no';
    $('s-ready').style.color = s.ready ? 'var(--ok)' : 'var(--bad)';
  }
  function banner(text) { var b = $('banner'); b.textContent = text || ''; b.style.display = text ? 'block' : 'none'; }
  function poll() {
    var headers = { Accept: 'application/json' };
    if (token) headers.Authorization = 'Bearer ' + token;
    fetch('api/status', { headers: headers, cache: 'no-store' })
      .then(function (r) {
        if (r.status === 401) throw new Error('unauthorized: open this page as /?token=<status token>');
        if (!r.ok) throw new Error('status endpoint answered ' + r.status);
        return r.json();
      })
      .then(function (s) { banner(''); render(s); })
      .catch(function (e) { banner('Cannot read the status: ' + e.message); })
      .then(function () { setTimeout(poll, 1000); });
  }
  poll();
})();
</script>
</body>
</html>
`;

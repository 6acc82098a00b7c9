// The static parts of report.html: its style sheet and the script that
// draws the timeline and latency charts as inline SVG from the page's own
// JSON (no library, no network). The script marks #render-status with
// data-state="ok" once drawn, or "error" and the message (tests read it).
#pragma once

namespace plexus::harness {

inline constexpr const char* report_css = R"CSS(
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:20px}h2{font-size:16px;margin-top:1.5em}
.meta{color:#555;margin:.2em 0}code{background:#f3f3f3;padding:1px 4px}
table.checkers{border-collapse:collapse;margin-top:1em}
.checkers td,.checkers th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}
tr.ok td:nth-child(2){color:#17702a;font-weight:bold}tr.bad td:nth-child(2){color:#b00020;font-weight:bold}
tr.unk td:nth-child(2){color:#a06000;font-weight:bold}.why{color:#b00020;font-weight:bold}
.fig{display:inline-block;margin-right:10px;font-size:12px}.legend{color:#555;font-size:12px}
svg{display:block;border:1px solid #ddd;background:#fff}svg text{font:11px sans-serif;fill:#333}
#render-status{font-size:12px;color:#555}
)CSS";

inline constexpr const char* report_js = R"JS(
(function () {
  var status = document.getElementById('render-status');
  function fail(message) { status.dataset.state = 'error'; status.textContent = 'render error: ' + message; }
  window.addEventListener('error', function (e) { fail(e.message); });
  var NS = 'http://www.w3.org/2000/svg';
  function el(parent, name, attrs, text) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    parent.appendChild(e);
    return e;
  }
  try {
    var d = JSON.parse(document.getElementById('timeline-data').textContent);
    var left = 130, width = Math.max(700, Math.min(1600, window.innerWidth - 80)), row = 16;
    var end = Math.max(d.converged_ms || 0, d.heal_ms || 0, 1000);
    d.ops.forEach(function (o) { end = Math.max(end, o[5] || o[4]); });
    d.processes.forEach(function (p) { end = Math.max(end, p[0]); });
    var x = function (t) { return left + (width - left - 10) * t / end; };
    var workloads = [];
    d.ops.forEach(function (o) { if (workloads.indexOf(o[1]) < 0) workloads.push(o[1]); });
    var rows = d.faults.length + d.names.length + workloads.length + 3;
    var svg = document.getElementById('timeline');
    svg.setAttribute('width', width); svg.setAttribute('height', rows * row + 30);
    var y = 4;
    // Time axis.
    for (var s = 0; s <= end / 1000; s += Math.max(1, Math.round(end / 10000))) {
      el(svg, 'line', {x1: x(s * 1000), x2: x(s * 1000), y1: 0, y2: rows * row + 10, stroke: '#eee'});
      el(svg, 'text', {x: x(s * 1000) + 2, y: rows * row + 24}, s + ' s');
    }
    el(svg, 'text', {x: 4, y: y + 11, 'font-weight': 'bold'}, 'faults');
    y += row;
    d.faults.forEach(function (f) {
      var r = el(svg, 'rect', {x: x(f.start), y: y + 2, width: Math.max(2, x(f.end) - x(f.start)), height: row - 4,
                               fill: f.fault === 'churn' ? '#9ecae1' : '#fb9a99', 'class': 'fault'});
      el(r, 'title', {}, '#' + f.id + ' ' + f.fault + ' ' + f.start + '..' + f.end + ' ms');
      el(svg, 'text', {x: x(f.start) + 3, y: y + 12}, f.fault);
      y += row;
    });
    d.names.forEach(function (name) {
      el(svg, 'text', {x: 4, y: y + 11}, name);
      var state = 'down', since = 0;
      var colors = {running: '#a1d99b', paused: '#fdae6b', down: '#d9d9d9'};
      function close(t) {
        el(svg, 'rect', {x: x(since), y: y + 3, width: Math.max(0, x(t) - x(since)), height: row - 6, fill: colors[state], 'class': 'lane'});
      }
      d.processes.forEach(function (p) {
        if (p[1] !== name) return;
        var next = {started: 'running', restarted: 'running', rejoined: 'running', resumed: 'running', paused: 'paused'}[p[2]] || 'down';
        close(p[0]); state = next; since = p[0];
      });
      close(end);
      d.observations.forEach(function (o) {
        if (o[2] === name && !o[3]) {
          var t = el(svg, 'line', {x1: x(o[0]), x2: x(o[0]), y1: y + 1, y2: y + row - 1, stroke: '#d62728', 'stroke-width': 1.5});
          el(t, 'title', {}, o[1] + ' saw ' + name + ' down at ' + o[0] + ' ms');
        }
      });
      y += row;
    });
    var outcome = {ok: '#2ca02c', fail: '#d62728', info: '#ff7f0e'};
    workloads.forEach(function (w) {
      el(svg, 'text', {x: 4, y: y + 11}, 'ops: ' + w);
      d.ops.forEach(function (o) {
        if (o[1] !== w) return;
        el(svg, 'circle', {cx: x(o[4]), cy: y + row / 2, r: 2.2, fill: outcome[o[6]] || '#999', 'class': 'op'});
      });
      y += row;
    });
    [[d.heal_ms, 'heal', 0], [d.converged_ms, 'converged', 1]].forEach(function (m) {
      if (m[0] === null || m[0] === undefined) return;
      el(svg, 'line', {x1: x(m[0]), x2: x(m[0]), y1: 0, y2: y, stroke: '#333', 'stroke-dasharray': '4 3'});
      el(svg, 'text', {x: x(m[0]) - 3, y: 12 + m[2] * 12, 'text-anchor': 'end'}, m[1]);
    });
    // Latency over time: every completed op, by workload.
    var lat = document.getElementById('latency'), h = 220;
    lat.setAttribute('width', width); lat.setAttribute('height', h + 30);
    var maxLatency = 1;
    d.ops.forEach(function (o) { if (o[5] !== null && o[6] === 'ok') maxLatency = Math.max(maxLatency, o[5] - o[4]); });
    var ly = function (v) { return h - (h - 10) * v / maxLatency; };
    [0, 0.25, 0.5, 0.75, 1].forEach(function (f) {
      el(lat, 'line', {x1: left, x2: width, y1: ly(f * maxLatency), y2: ly(f * maxLatency), stroke: '#eee'});
      el(lat, 'text', {x: 4, y: ly(f * maxLatency) + 4}, Math.round(f * maxLatency) + ' ms');
    });
    var palette = ['#1f77b4', '#9467bd', '#8c564b', '#e377c2'];
    workloads.forEach(function (w, i) {
      el(lat, 'text', {x: left + 10 + i * 120, y: h + 24, fill: palette[i % 4]}, '\u25cf ' + w);
      d.ops.forEach(function (o) {
        if (o[1] !== w || o[5] === null || o[6] !== 'ok') return;
        el(lat, 'circle', {cx: x(o[4]), cy: ly(o[5] - o[4]), r: 1.8, fill: palette[i % 4], 'class': 'latency'});
      });
    });
    d.faults.forEach(function (f) {
      el(lat, 'rect', {x: x(f.start), y: 0, width: Math.max(1, x(f.end) - x(f.start)), height: h, fill: '#fb9a99', opacity: 0.15});
    });
    if (status.dataset.state !== 'error') {
      status.dataset.state = 'ok';
      status.textContent = 'drawn: ' + d.faults.length + ' faults, ' + d.ops.length + ' ops, ' + d.names.length + ' nodes';
    }
  } catch (e) { fail(e && e.message ? e.message : String(e)); }
})();
)JS";

}  // namespace plexus::harness

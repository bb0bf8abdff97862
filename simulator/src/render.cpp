#include "opsync/simulator/render.h"

#include <map>
#include <nlohmann/json.hpp>
#include <set>

namespace opsync::simulator {
namespace {

constexpr size_t kBodyCharsMax =
    4000;  // a body shown in the page; longer ones are cut, with their size

bool printable(const std::string& text) {
  if (!is_valid_utf8(text)) return false;
  for (unsigned char c : text)
    if (c < 0x20 && c != '\n' && c != '\t' && c != '\r') return false;
  return true;
}

// A body as the page shows it: text as it is, binary (a sealed chunk) as hex, both cut short.
std::string shown_body(const std::string& body) {
  if (printable(body)) {
    if (body.size() <= kBodyCharsMax) return body;
    return body.substr(0, kBodyCharsMax) + "\n... (" + std::to_string(body.size()) +
           " bytes in all)";
  }
  const size_t newline = body.find('\n');
  const std::string head = newline != std::string::npos && printable(body.substr(0, newline))
                               ? body.substr(0, newline + 1)
                               : "";
  const std::string rest = body.substr(head.size());
  const size_t shown = std::min<size_t>(rest.size(), 256);
  return head + "(binary, " + std::to_string(rest.size()) +
         " bytes: ciphertext as it travelled)\n" +
         to_hex(ByteView(reinterpret_cast<const uint8_t*>(rest.data()), shown)) +
         (shown < rest.size() ? " ..." : "");
}

// JSON inside a <script> element: "</" must not close it.
std::string script_safe(const std::string& json) {
  std::string out;
  out.reserve(json.size());
  for (size_t i = 0; i < json.size(); ++i) {
    if (json[i] == '<' && i + 1 < json.size() && json[i + 1] == '/') {
      out += "<\\/";
      ++i;
    } else {
      out.push_back(json[i]);
    }
  }
  return out;
}

std::string html_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

constexpr const char* kPage = R"html(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>@TITLE@</title>
<style>
body { font: 13px/1.4 system-ui, sans-serif; margin: 0; color: #1d2330; background: #fafbfc;
       display: flex; flex-direction: column; height: 100vh; }
header { flex: none; padding: 12px 18px; background: #fff; border-bottom: 1px solid #d9dde5; }
h1 { font-size: 16px; margin: 0 0 4px; }
#summary { color: #4a5160; }
#description { max-width: 75em; margin: 0.2em 0 0.5em; }
#violation { margin-top: 8px; padding: 8px 10px; border: 2px solid #d0302b; background: #fdecea; color: #7a1410; }
#violation.none { border-color: #2e8540; background: #e8f5ec; color: #1d5b2c; }
#violation b { text-transform: uppercase; }
#violation .also { font-size: 12px; opacity: 0.8; }
#violation { max-height: 30vh; overflow: auto; }
main { flex: 1; min-height: 0; display: flex; }
#diagram { flex: 1; overflow: auto; }
#panel { width: 420px; border-left: 1px solid #d9dde5; background: #fff; padding: 10px; overflow: auto; }
#panel pre { white-space: pre-wrap; word-break: break-all; font: 11px/1.35 ui-monospace, monospace; background: #f4f5f8; padding: 6px; }
svg text { font: 11px system-ui, sans-serif; }
.lane line { stroke: #c4c9d4; stroke-width: 1.5; }
#heads { position: sticky; top: 0; display: block; background: #fafbfc; border-bottom: 1px solid #e3e6ec; z-index: 1; }
text.head { font-weight: 600; font-size: 12px; }
.lane-head.involved text.head { fill: #d0302b; }
.event circle { fill: #5b6b8c; cursor: pointer; }
.event.kind-edit circle { fill: #3366cc; }
.event.kind-crash circle, .event.kind-revoked circle { fill: #d0302b; }
.event.kind-restart circle, .event.kind-up circle { fill: #2e8540; }
.event.kind-restore circle, .event.kind-backup circle { fill: #8a4fbf; }
.event.kind-lost circle, .event.kind-refused circle, .event.kind-reset circle, .event.kind-failure circle { fill: #e07b00; }
.event.involved circle { stroke: #f2b705; stroke-width: 5; }
.event.selected circle { stroke: #111; stroke-width: 3; }
.event text.label { fill: #333; }
.event text.clock { fill: #8a91a0; font-size: 10px; }
.time { fill: #4a5160; font-size: 10px; }
.arrow { stroke-width: 1.4; fill: none; }
.arrow.request { stroke: #3366cc; }
.arrow.answer { stroke: #2e8540; }
.arrow.lost { stroke: #d0302b; stroke-dasharray: 4 3; }
.arrow.duplicate { stroke: #e07b00; stroke-dasharray: 6 3; }
.cross { stroke: #d0302b; stroke-width: 2.5; }
.band rect { fill: #eef0f5; }
.band.kind-violation rect { fill: #fbd3d0; }
.band.kind-partition rect { fill: #fff1d6; }
.band text { fill: #4a5160; font-weight: 600; }
.band.setup { cursor: pointer; }
.band.setup rect { fill: #e3e8f2; }
</style></head>
<body>
<header><h1>@TITLE@</h1><p id="description"></p><div id="summary"></div><div id="violation"></div></header>
<main><div id="diagram"></div><aside id="panel"><p>Click an event to see it: its node, its clock,
what it carried. Ciphertext is shown as it travelled.</p></aside></main>
<script type="application/json" id="trace-data">@DATA@</script>
<script>
(function () {
  const data = JSON.parse(document.getElementById('trace-data').textContent);
  const NS = 'http://www.w3.org/2000/svg';
  const laneWidth = 170, left = 250, top = 40, row = 18;
  const nodes = data.nodes;
  const laneX = n => left + laneWidth * n + laneWidth / 2;
  const el = (name, attrs, parent) => {
    const e = document.createElementNS(NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  };
  const clockText = ms => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
  // A label fits beside its lane: ids (22 characters of base64url) shortened to their first 6,
  // which is what tells them apart, and a label still too long cut in its middle, keeping its
  // start (the method, the kind) and its end (the route's last segment: /ops or /blocks, the
  // status), where the information is.
  const labelCharsMax = 44;
  const shortLabel = text => {
    const short = text.replace(/[A-Za-z0-9_-]{22}/g, id => id.slice(0, 6) + '\u2026');
    if (short.length <= labelCharsMax) return short;
    const tail = Math.floor(labelCharsMax / 2);
    return short.slice(0, labelCharsMax - tail - 1) + '\u2026' + short.slice(short.length - tail);
  };
  const relative = ms => (ms / 1000).toFixed(3) + ' s';
  // The violation the bug is about is the first; its operations and nodes are highlighted.
  const primary = data.violations.length ? data.violations[0] : {ops: [], nodes: []};
  const involvedOps = primary.ops;
  const involvedNodes = new Set(primary.nodes);
  const distinct = list => Array.from(new Set(list));
  const touchesOps = e => involvedOps.some(op => (e.b && e.b.includes(op)) || (e.d && (e.d.includes(op) || e.d.includes(op.slice(0, 8)))));
  // A violation about no operation or file the trace names (or none the events show): its nodes'
  // last events up to the moment it was found are what it is about.
  const ringed = new Set(data.events.map((e, i) => i).filter(i => data.events[i].n >= 0 && touchesOps(data.events[i])));
  if (ringed.size === 0 && data.violations.length) {
    primary.nodes.forEach(name => {
      const n = nodes.indexOf(name);
      let last = -1;
      data.events.forEach((e, i) => { if (e.n === n && e.t <= primary.time_ms) last = i; });
      if (last >= 0) ringed.add(last);
    });
  }
  const touches = e => ringed.has(data.events.indexOf(e));

  document.getElementById('summary').textContent = data.summary;
  const description = document.getElementById('description');
  if (data.description) description.textContent = data.description;
  else description.remove();
  const vbox = document.getElementById('violation');
  if (data.violations.length === 0) {
    vbox.className = 'none';
    vbox.textContent = 'Every checker held.';
  } else {
    data.violations.forEach((v, i) => {
      const p = document.createElement('div');
      p.className = i === 0 ? 'violated primary' : 'violated also';
      p.innerHTML = '<b></b> at <span class="t"></span> on <span class="n"></span>: <span class="m"></span>';
      p.querySelector('b').textContent = v.checker;
      p.querySelector('.t').textContent = relative(v.time_ms - data.start_ms);
      p.querySelector('.n').textContent = distinct(v.nodes).join(', ') || 'the system';
      p.querySelector('.m').textContent = v.message;
      vbox.appendChild(p);
    });
  }

  // The setup (creating the workspace, joining) is folded away until asked for: the run starts
  // where the chaos does.
  const chaosAt = data.events.findIndex(e => e.n < 0 && e.k === 'phase' && e.d === 'chaos');
  let showSetup = chaosAt <= 0;
  function draw() {
  for (const id of ['spacetime', 'heads']) {
    const old = document.getElementById(id);
    if (old) old.remove();
  }
  const drawn = data.events.map((e, i) => i).filter(i => showSetup || i >= chaosAt);
  // A row per event, taller where the node's clock differs from true time (its reading goes
  // under the label).
  const skewed = e => e.n >= 0 && e.c !== e.t;
  const ys = [];
  let down = top + (chaosAt > 0 ? row : 0);
  drawn.forEach(i => { down += row + (skewed(data.events[i]) ? 10 : 0); ys[i] = down; });
  const height = down + 2 * row;
  const width = left + laneWidth * nodes.length + 260;
  // The lanes' names stay in sight above the diagram as it scrolls.
  const heads = el('svg', {width: width, height: 28, id: 'heads'});
  const svg = el('svg', {width: width, height: height - top + 10, viewBox: '0 ' + (top - 10) + ' ' + width + ' ' + (height - top + 10),
                         id: 'spacetime'});
  document.getElementById('diagram').append(heads, svg);
  const bands = el('g', {}, svg), arrows = el('g', {}, svg), lanes = el('g', {}, svg), dots = el('g', {}, svg);
  el('text', {x: 8, y: 18, class: 'time head'}, heads).textContent = 'true time';
  nodes.forEach((name, n) => {
    const g = el('g', {class: 'lane' + (involvedNodes.has(name) ? ' involved' : ''), 'data-node': name,
                       'data-x': laneX(n)}, lanes);
    el('line', {x1: laneX(n), y1: top - 10, x2: laneX(n), y2: height}, g);
    const head = el('g', {class: 'lane-head' + (involvedNodes.has(name) ? ' involved' : '')}, heads);
    el('text', {x: laneX(n), y: 18, 'text-anchor': 'middle', class: 'head'}, head).textContent = name;
  });
  if (chaosAt > 0) {
    const g = el('g', {class: 'band setup', id: 'setup-toggle'}, bands);
    el('rect', {x: left, y: top + row / 2 + 2, width: laneWidth * nodes.length, height: row - 4}, g);
    el('text', {x: left + 6, y: top + row + 4}, g).textContent =
        (showSetup ? 'hide' : 'show') + ' the setup: ' + chaosAt + ' events (creating the workspace, joining)';
    g.addEventListener('click', () => { showSetup = !showSetup; draw(); });
  }
  // Where each exchange's events are, to draw its arrows.
  const at = {};
  let lastTime = -1;
  let firstInvolved = null;
  drawn.forEach(i => {
    const e = data.events[i];
    const y = ys[i];
    if (e.t !== lastTime) {
      const t = el('text', {x: 8, y: y + 4, class: 'time'}, dots);
      t.textContent = relative(e.t - data.start_ms);
      lastTime = e.t;
    }
    if (e.n < 0) {
      const g = el('g', {class: 'band kind-' + e.k}, bands);
      el('rect', {x: left, y: y - row / 2 + 2, width: laneWidth * nodes.length, height: row - 4}, g);
      const t = el('text', {x: left + 6, y: y + 4}, g);
      t.textContent = e.k + ': ' + e.d;
      return;
    }
    const x = laneX(e.n);
    const g = el('g', {class: 'event kind-' + e.k + (touches(e) ? ' involved' : ''), 'data-index': i}, dots);
    if (touches(e) && firstInvolved === null) firstInvolved = y;
    el('circle', {cx: x, cy: y, r: 5}, g);
    // The server's labels go to its left, away from the arrows; the devices' to their right.
    const server = e.n === 0;
    const side = server ? {x: x - 9, 'text-anchor': 'end'} : {x: x + 9};
    const label = el('text', Object.assign({y: y + 4, class: 'label'}, side), g);
    label.textContent = shortLabel(e.k + (e.d ? ' ' + e.d : ''));
    const clock = el('text', Object.assign({y: y + 14, class: 'clock'}, side), g);
    if (skewed(e)) {
      const skew = (e.c - e.t) / 1000;
      clock.textContent = 'its clock ' + relative(e.c - data.start_ms) + ' (' + (skew > 0 ? '+' : '') + skew.toFixed(3) + ' s)';
    }
    g.addEventListener('click', () => show(i, g));
    if (e.x) (at[e.x] = at[e.x] || []).push({e: e, x: x, y: y});
  });
  const line = (a, b, cls) => el('path', {d: 'M' + a.x + ',' + a.y + ' L' + b.x + ',' + b.y, class: 'arrow ' + cls, 'marker-end': ''}, arrows);
  const cross = (p, from) => {
    const g = el('g', {class: 'cross-mark', 'data-from': from, 'data-x': p.x}, arrows);
    el('line', {x1: p.x - 5, y1: p.y - 5, x2: p.x + 5, y2: p.y + 5, class: 'cross'}, g);
    el('line', {x1: p.x - 5, y1: p.y + 5, x2: p.x + 5, y2: p.y - 5, class: 'cross'}, g);
  };
  for (const x in at) {
    const list = at[x];
    const send = list.find(p => p.e.k === 'send');
    const arrive = list.find(p => p.e.k === 'arrive');
    if (!send) continue;
    const server = laneX(nodes.indexOf('server'));
    if (arrive) line(send, arrive, 'request'); 
    for (const again of list.filter(p => p.e.k === 'arrive-again')) line(send, again, 'duplicate');
    const deliver = list.find(p => p.e.k === 'deliver');
    if (arrive && deliver) line(arrive, deliver, 'answer');
    const lost = list.find(p => p.e.k === 'lost' || p.e.k === 'refused' || p.e.k === 'reset');
    if (lost) {
      const from = lost.e.n === nodes.indexOf('server') && arrive ? arrive : send;
      const toward = from === send ? server : send.x;
      // Short of the next lane whatever the distance: a cross further out would sit on a lane
      // between the two and seem to be that node's.
      const reach = Math.min(Math.abs(toward - from.x) * 0.45, laneWidth * 0.4);
      const end = {x: from.x + Math.sign(toward - from.x) * reach, y: lost.y};
      line(from, end, 'lost');
      cross(end, nodes[from === send ? send.e.n : nodes.indexOf('server')]);
    }
  }
  return firstInvolved;
  }
  const firstInvolved = draw();
  // Open at the first event that touches the violation's operations, with some run before it.
  if (firstInvolved !== null && firstInvolved > 400) document.getElementById('diagram').scrollTop = firstInvolved - 330;

  const panel = document.getElementById('panel');
  let selected = null;
  function show(i, g) {
    const e = data.events[i];
    if (selected) selected.classList.remove('selected');
    g.classList.add('selected');
    selected = g;
    panel.innerHTML = '<h3></h3><p class="when"></p><p class="what"></p><pre></pre>';
    panel.querySelector('h3').textContent = nodes[e.n] + ': ' + e.k;
    panel.querySelector('.when').textContent = 'true time ' + clockText(e.t) + ' (' + relative(e.t - data.start_ms) +
        '); its clock read ' + clockText(e.c) + (e.x ? '; exchange #' + e.x : '');
    panel.querySelector('.what').textContent = e.d;
    panel.querySelector('pre').textContent = e.b || '(no body kept)';
  }
})();
</script>
</body></html>
)html";

}  // namespace

std::string render_html(const RunResult& result, const std::string& title,
                        const std::string& description) {
  const uint64_t start_ms = result.events.empty() ? 0 : result.events.front().time_ms;
  std::vector<std::string> nodes = {"server"};
  std::map<std::string, int> index = {{"server", 0}};
  for (const TraceEvent& e : result.events)
    if (e.node.rfind("device-", 0) == 0 && !index.count(e.node)) {
      index[e.node] = static_cast<int>(nodes.size());
      nodes.push_back(e.node);
    }
  // Devices in numeric order, after the server.
  std::sort(nodes.begin() + 1, nodes.end(), [](const std::string& a, const std::string& b) {
    return std::stoul(a.substr(7)) < std::stoul(b.substr(7));
  });
  for (size_t i = 0; i < nodes.size(); ++i) index[nodes[i]] = static_cast<int>(i);
  nlohmann::json events = nlohmann::json::array();
  for (const TraceEvent& e : result.events) {
    auto it = index.find(e.node);
    nlohmann::json j = {{"t", e.time_ms},
                        {"n", it == index.end() ? -1 : it->second},
                        {"k", e.kind},
                        {"d", e.detail},
                        {"c", e.clock_ms}};
    if (e.exchange) j["x"] = e.exchange;
    if (!e.body.empty() && e.kind != "deliver") j["b"] = shown_body(e.body);
    events.push_back(std::move(j));
  }
  nlohmann::json violations = nlohmann::json::array();
  for (const Violation& v : result.violations)
    violations.push_back({{"checker", v.checker},
                          {"time_ms", v.time_ms},
                          {"nodes", v.nodes},
                          {"ops", v.ops},
                          {"message", v.message}});
  const Config& c = result.config;
  const std::string summary =
      std::string(protocol_name(c.protocol)) +
      (c.variant != Variant::kNone ? " (" + std::string(variant_name(c.variant)) + ")" : "") +
      ", seed " + std::to_string(c.seed) + ", faults " + c.faults.name + ", " +
      std::to_string(nodes.size() - 1) + " devices, " + std::to_string(result.events.size()) +
      " events, trace " + hash_hex(result.trace_hash).substr(0, 16);
  const nlohmann::json page = {{"nodes", nodes},           {"events", events},
                               {"violations", violations}, {"start_ms", start_ms},
                               {"summary", summary},       {"description", description}};
  std::string html = kPage;
  const std::string escaped_title = html_escape(title);
  for (size_t at; (at = html.find("@TITLE@")) != std::string::npos;)
    html.replace(at, 7, escaped_title);
  html.replace(html.find("@DATA@"), 6, script_safe(page.dump()));
  return html;
}

std::string render_shiviz(const RunResult& result) {
  std::map<std::string, std::map<std::string, uint64_t>> clocks;  // node -> vector clock
  std::map<uint64_t, std::map<std::string, uint64_t>>
      sent;  // exchange -> the sender's clock at sending
  std::map<uint64_t, std::map<std::string, uint64_t>>
      answered;  // exchange -> the server's clock at answering
  std::string out;
  auto merge = [](std::map<std::string, uint64_t>& into,
                  const std::map<std::string, uint64_t>& from) {
    for (const auto& [node, count] : from) into[node] = std::max(into[node], count);
  };
  for (const TraceEvent& e : result.events) {
    if (e.node == "world") continue;
    std::map<std::string, uint64_t>& vc = clocks[e.node];
    if (e.kind == "arrive" && sent.count(e.exchange)) merge(vc, sent[e.exchange]);
    if (e.kind == "deliver" && answered.count(e.exchange)) merge(vc, answered[e.exchange]);
    vc[e.node] += 1;
    if (e.kind == "send") sent[e.exchange] = vc;
    if (e.kind == "arrive") answered[e.exchange] = vc;
    std::string description = e.kind + " " + e.detail;
    for (char& c : description)
      if (c == '\n' || c == '\r') c = ' ';
    nlohmann::json clock = nlohmann::json::object();
    for (const auto& [node, count] : vc) clock[node] = count;
    out += description + "\n" + e.node + " " + clock.dump() + "\n";
  }
  return out;
}

}  // namespace opsync::simulator

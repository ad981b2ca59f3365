// The cluster page: members, timeline, network map, RTT heat map and this node's health.
// Every value from the cluster is written with textContent (never as HTML): node names, tags
// and event names come from the network.
"use strict";

const STATUSES = ["alive", "leaving", "left", "failed"];
const REFRESH_MS = 5000;
const TIMELINE_MAX = 500;
const SVGNS = "http://www.w3.org/2000/svg";

const state = {
  members: [],
  coords: null,
  status: null,
  lastChange: new Map(),
  layout: new Map(),
  seen: new Set(),
  source: null,
  refreshTimer: null,
};

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

function statusClass(status) {
  return STATUSES.includes(status) ? status : "unknown";
}

function fmtTime(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString([], { hour12: false });
}

function fmtMs(seconds) {
  return seconds === null || seconds === undefined ? "?" : (seconds * 1000).toFixed(2);
}

async function getJSON(path) {
  const response = await fetch(path, { cache: "no-store" });
  if (!response.ok && response.status !== 503) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

// ---------------------------------------------------------------- data refresh

async function refresh() {
  try {
    const [members, status, coords] = await Promise.all([
      getJSON("/v1/members"), getJSON("/v1/ui/status"), getJSON("/v1/coordinates"),
    ]);
    state.members = members.members || [];
    state.status = status;
    state.coords = coords;
    render();
  } catch (err) {
    setConn("error", `refresh failed: ${err.message}`);
  }
}

function scheduleRefresh(delay) {
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(() => { refresh().finally(() => scheduleRefresh(REFRESH_MS)); }, delay);
}

function render() {
  renderHeader();
  renderMembers();
  renderHealth();
  renderMap();
}

// ---------------------------------------------------------------- header and members

function renderHeader() {
  document.getElementById("local-name").textContent = state.status ? state.status.name : "?";
  const counts = document.getElementById("counts");
  counts.replaceChildren();
  for (const status of STATUSES) {
    const n = state.members.filter((m) => m.status === status).length;
    const badge = el("span", `count ${status}`, `${status} ${n}`);
    badge.dataset.status = status;
    badge.dataset.count = String(n);
    counts.append(badge);
  }
}

function matchesFilters(member) {
  const name = document.getElementById("filter-name").value.trim().toLowerCase();
  const tag = document.getElementById("filter-tag").value.trim().toLowerCase();
  const status = document.getElementById("filter-status").value;
  if (name && !member.name.toLowerCase().includes(name)) return false;
  if (status && member.status !== status) return false;
  if (tag) {
    const [key, value] = tag.includes("=") ? tag.split(/=(.*)/s) : [tag, null];
    const hit = Object.entries(member.tags || {}).some(([k, v]) =>
      k.toLowerCase().includes(key) && (value === null || v.toLowerCase().includes(value)));
    if (!hit) return false;
  }
  return true;
}

function renderMembers() {
  const body = document.querySelector("#members tbody");
  body.replaceChildren();
  const sorted = [...state.members].sort((a, b) => a.name.localeCompare(b.name));
  for (const m of sorted.filter(matchesFilters)) {
    const row = el("tr");
    row.dataset.name = m.name;
    row.dataset.status = m.status;
    row.append(el("td", "name", m.name), el("td", "addr", String(m.addr).endsWith(`:${m.port}`) ? m.addr : `${m.addr}:${m.port}`));
    const status = el("td");
    status.append(el("span", `status ${statusClass(m.status)}`, m.status));
    const tags = el("td", "tags");
    for (const [k, v] of Object.entries(m.tags || {})) tags.append(el("span", "tag", `${k}=${v}`));
    const p = m.protocol || {};
    const changed = state.lastChange.get(m.name);
    row.append(status, tags, el("td", "protocol", `${p.version} (${p.min}–${p.max})`),
      el("td", "changed", changed ? fmtTime(changed) : "—"));
    body.append(row);
  }
}

// ---------------------------------------------------------------- health

function renderHealth() {
  const s = state.status;
  const dl = document.getElementById("health");
  dl.replaceChildren();
  if (!s) return;
  const add = (label, value, key) => {
    const dd = el("dd", null, value);
    dd.dataset.key = key;
    dl.append(el("dt", null, label), dd);
  };
  add("status", s.status, "status");
  add("address", s.addr, "addr");
  add("health score", `${s.health_score} (0 is healthy)`, "health_score");
  add("queues", `intent ${s.queues.intent}, event ${s.queues.event}, query ${s.queues.query}`, "queues");
  add("encrypted", s.encrypted ? "yes" : "no", "encrypted");
  const pm = s.protocol.memberlist, ps = s.protocol.serf;
  add("protocol", `memberlist ${pm.current} (${pm.min}–${pm.max}), serf ${ps.current} (${ps.min}–${ps.max})`, "protocol");
  const drops = Object.entries(s.dropped);
  add("dropped input", drops.length ? drops.map(([r, n]) => `${r}: ${n}`).join(", ") : "none", "dropped");
  add("event streams", `${s.event_streams.clients} open, ${s.event_streams.dropped_clients} dropped`, "streams");
}

// ---------------------------------------------------------------- map (classical MDS)

// Top eigenvector of a symmetric matrix by power iteration (deterministic start).
function topEigen(B) {
  const n = B.length;
  let v = B.map((_, i) => 1 + i / n);
  let lambda = 0;
  for (let iter = 0; iter < 200; iter++) {
    const w = B.map((row) => row.reduce((acc, x, j) => acc + x * v[j], 0));
    const norm = Math.hypot(...w);
    if (norm === 0) return { lambda: 0, v: v.map(() => 0) };
    lambda = norm;
    v = w.map((x) => x / norm);
  }
  return { lambda, v };
}

// Classical MDS: double-centre the squared distances, take the two leading eigenvectors.
function mds(D) {
  const n = D.length;
  const sq = D.map((row) => row.map((d) => d * d));
  const rowMean = sq.map((row) => row.reduce((a, b) => a + b, 0) / n);
  const all = rowMean.reduce((a, b) => a + b, 0) / n;
  const B = sq.map((row, i) => row.map((x, j) => -0.5 * (x - rowMean[i] - rowMean[j] + all)));
  const e1 = topEigen(B);
  const B2 = B.map((row, i) => row.map((x, j) => x - e1.lambda * e1.v[i] * e1.v[j]));
  const e2 = topEigen(B2);
  const s1 = Math.sqrt(Math.max(e1.lambda, 0)), s2 = Math.sqrt(Math.max(e2.lambda, 0));
  return D.map((_, i) => [e1.v[i] * s1, e2.v[i] * s2]);
}

// Rotate (and maybe mirror) `points` to best match the previous layout of the same nodes,
// so the picture keeps its orientation between updates (orthogonal Procrustes in 2-D).
function align(names, points) {
  const common = names.map((n, i) => [state.layout.get(n), points[i]]).filter(([p]) => p);
  if (common.length < 2) return points;
  let best = null;
  for (const mirror of [1, -1]) {
    let a = 0, b = 0;
    for (const [p, q] of common) {
      const qy = q[1] * mirror;
      a += p[0] * q[0] + p[1] * qy;
      b += p[1] * q[0] - p[0] * qy;
    }
    const theta = Math.atan2(b, a), c = Math.cos(theta), s = Math.sin(theta);
    const out = points.map(([x, y]) => [c * x - s * y * mirror, s * x + c * y * mirror]);
    let err = 0;
    for (const [name, i] of names.map((n, k) => [n, k])) {
      const p = state.layout.get(name);
      if (p) err += (p[0] - out[i][0]) ** 2 + (p[1] - out[i][1]) ** 2;
    }
    if (!best || err < best.err) best = { err, out };
  }
  return best.out;
}

function renderMap() {
  const map = document.getElementById("map");
  const heat = document.getElementById("heat");
  map.replaceChildren();
  document.getElementById("map-tip").hidden = true;
  const coords = state.coords;
  if (!coords || !coords.nodes.length) return;
  const names = coords.nodes.map((n) => n.Node);
  const fallback = mean(coords.rtt.flat().filter((x) => x !== null));
  const D = coords.rtt.map((row) => row.map((x) => (x === null ? fallback : x)));
  const points = align(names, mds(D));
  state.layout = new Map(names.map((n, i) => [n, points[i]]));
  const statusOf = new Map(state.members.map((m) => [m.name, m.status]));
  const localIdx = names.indexOf(coords.local);
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  const span = Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys), 1e-9);
  const cx = (Math.max(...xs) + Math.min(...xs)) / 2, cy = (Math.max(...ys) + Math.min(...ys)) / 2;
  const scale = 240 / span;
  const tip = document.getElementById("map-tip");
  names.forEach((name, i) => {
    const x = 200 + (points[i][0] - cx) * scale, y = 150 + (points[i][1] - cy) * scale;
    const status = statusClass(statusOf.get(name) || coords.nodes[i].Status);
    const dot = svg("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: 7, class: `node ${status}` });
    if (i === localIdx) dot.classList.add("local");
    dot.dataset.name = name;
    const rtt = localIdx >= 0 ? coords.rtt[localIdx][i] : null;
    dot.addEventListener("mouseenter", () => {
      tip.textContent = `${name}\nRTT from ${coords.local}: ${fmtMs(rtt)} ms`;
      tip.hidden = false;
      const box = map.parentElement.getBoundingClientRect();
      const at = dot.getBoundingClientRect();
      // keep the tip inside the card: left of the point when it would overflow
      const right = at.right - box.left + 6;
      const left = at.left - box.left - tip.offsetWidth - 6;
      tip.style.left = `${right + tip.offsetWidth > box.width && left > 0 ? left : right}px`;
      tip.style.top = `${at.bottom - box.top + 6}px`;
    });
    dot.addEventListener("mousemove", (ev) => {
      const box = map.parentElement.getBoundingClientRect();
      tip.style.left = `${ev.clientX - box.left + 12}px`;
      tip.style.top = `${ev.clientY - box.top + 12}px`;
    });
    dot.addEventListener("mouseleave", () => { tip.hidden = true; });
    const label = svg("text", { x: (x + 9).toFixed(1), y: (y + 4).toFixed(1) });
    label.textContent = name.length > 24 ? `${name.slice(0, 23)}…` : name;
    map.append(dot, label);
  });
  renderHeat(names, coords.rtt, points);
}

function mean(values) {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0;
}

// ---------------------------------------------------------------- heat map

function renderHeat(names, rtt, points) {
  const order = names.map((_, i) => i).sort((a, b) => points[a][0] - points[b][0] || a - b);
  const max = Math.max(...rtt.flat().filter((x) => x !== null), 1e-9);
  const head = document.querySelector("#heat thead");
  const body = document.querySelector("#heat tbody");
  const hr = el("tr");
  hr.append(el("th"));
  for (const j of order) hr.append(el("th", null, names[j]));
  head.replaceChildren(hr);
  body.replaceChildren();
  for (const i of order) {
    const row = el("tr");
    row.dataset.name = names[i];
    row.append(el("th", null, names[i]));
    for (const j of order) {
      const value = rtt[i][j];
      const cell = el("td", null, fmtMs(value));
      const heat = value === null ? 0 : value / max;
      cell.style.backgroundColor = `hsl(${Math.round(120 - 120 * heat)}, 70%, ${Math.round(88 - 30 * heat)}%)`;
      row.append(cell);
    }
    body.append(row);
  }
}

// ---------------------------------------------------------------- timeline and stream

function describe(record) {
  if (record.type === "member") {
    return `${record.event}: ${record.members.map((m) => `${m.name} (${m.status})`).join(", ")}`;
  }
  const size = `${record.payload_size} bytes`;
  if (record.type === "user") return `user event ${record.name} [${size}] ${record.payload}`;
  return `query ${record.name} from ${record.source} [${size}] ${record.payload}`;
}

function addRecord(record) {
  if (state.seen.has(record.id)) return;
  state.seen.add(record.id);
  const list = document.getElementById("timeline");
  const item = el("li", `event ${record.type}`);
  item.dataset.type = record.type;
  item.dataset.id = String(record.id);
  item.append(el("time", null, fmtTime(record.time)), el("span", `kind ${record.type}`, record.type),
    el("span", "text", describe(record)));
  list.prepend(item);
  while (list.children.length > TIMELINE_MAX) list.lastElementChild.remove();
  if (record.type === "member") {
    for (const m of record.members) {
      state.lastChange.set(m.name, record.time);
      const known = state.members.find((x) => x.name === m.name);
      if (known) known.status = m.status;
    }
    renderHeader();
    renderMembers();
    scheduleRefresh(300);
  }
}

function setConn(stateName, text) {
  const conn = document.getElementById("conn");
  conn.dataset.state = stateName;
  conn.textContent = text;
}

function connect() {
  if (state.source) state.source.close();
  // a fresh stream replays the agent's whole history: start the timeline over
  state.seen.clear();
  document.getElementById("timeline").replaceChildren();
  const source = new EventSource("/v1/events");
  state.source = source;
  source.addEventListener("open", () => setConn("open", "live"));
  for (const type of ["member", "user", "query"]) {
    source.addEventListener(type, (ev) => {
      try { addRecord(JSON.parse(ev.data)); } catch (err) { console.warn("bad record", err); }
    });
  }
  source.addEventListener("error", () => {
    // EventSource retries by itself while CONNECTING; a refused stream (503) ends CLOSED
    setConn("connecting", "reconnecting");
    if (source.readyState === EventSource.CLOSED) setTimeout(connect, 3000);
  });
}

function start() {
  for (const id of ["filter-name", "filter-tag", "filter-status"]) {
    document.getElementById(id).addEventListener("input", renderMembers);
  }
  connect();
  refresh().finally(() => scheduleRefresh(REFRESH_MS));
}

document.addEventListener("DOMContentLoaded", start);

// The city overview: the county map, the area table, the drill-down, the devices of an area and the panels, kept
// live from /api/overview/stream. Updates are gathered and written to the DOM once per animation frame.

import { COUNTY_EN, lang, setupSwitch, t } from "./i18n.js";
import {
  Expired, STATUS_COLOURS, el, escapeLines, formatTime, getJSON, keyboardRows, setStatusCell, showBanner,
  simpleTable, statusCell,
} from "./common.js";

const params = new URLSearchParams(location.search);
const WALL = params.get("wall") === "1";
const CYCLE_S = Math.max(2, Number(params.get("cycle")) || 15); // each step loads a county's devices
const STATUS_RANK = { down: 0, degraded: 1, unknown: 2, up: 3 };
const NO_DATA = "#e0e0e0";
const DRILL_MIN_INTERVAL_MS = 1000; // a treemap redraw per frame would cost more than the update it shows

const state = {
  root: null,
  focus: null,
  areas: new Map(), // id -> AREA
  children: new Map(), // id -> [id]
  featureOf: new Map(), // county area id -> map feature name
  areaOfFeature: new Map(), // map feature name -> county area id
  featureCode: new Map(), // feature name -> its id (the administrative code)
  sort: { key: null, dir: 1 },
  areaRows: new Map(),
  deviceRows: new Map(),
  devices: new Map(),
  alerts: null,
  panels: null,
  generated: null,
};

let mapChart = null;
let drillChart = null;

// --- the area model ------------------------------------------------------------------------------------------

function loadAreas(overview) {
  state.root = overview.root;
  state.generated = overview.generated_at;
  state.areas.clear();
  state.children.clear();
  for (const area of overview.areas) {
    state.areas.set(area.id, area);
    if (area.parent !== null && area.parent !== undefined) {
      if (!state.children.has(area.parent)) state.children.set(area.parent, []);
      state.children.get(area.parent).push(area.id);
    }
  }
  state.alerts = overview.alerts;
}

function childrenOf(id) {
  return (state.children.get(id) || []).map((child) => state.areas.get(child));
}

function ancestry(id) {
  const path = [];
  for (let area = state.areas.get(id); area; area = state.areas.get(area.parent)) path.unshift(area);
  return path;
}

function within(id, ancestor) {
  for (let area = state.areas.get(id); area; area = state.areas.get(area.parent)) if (area.id === ancestor) return true;
  return false;
}

function counties() {
  return [...state.areas.values()].filter((area) => area.level === "county");
}

// A county is its map feature by its administrative code (the first six digits name a county), else by name.
function matchFeatures(geojson) {
  const byCode = new Map();
  const byName = new Map();
  for (const feature of geojson.features) {
    const name = feature.properties.name;
    byCode.set(String(feature.id), name);
    byName.set(name, name);
    byName.set(name.replace(/[区县市]$/, ""), name);
    if (COUNTY_EN[feature.id]) byName.set(COUNTY_EN[feature.id].toLowerCase(), name);
    state.featureCode.set(name, String(feature.id));
  }
  state.featureOf.clear();
  state.areaOfFeature.clear();
  for (const area of counties()) {
    const code = area.code ? String(area.code).slice(0, 6) : null;
    const name = (code && byCode.get(code)) || byName.get(area.name) || byName.get(String(area.name).toLowerCase());
    if (name && !state.areaOfFeature.has(name)) {
      state.featureOf.set(area.id, name);
      state.areaOfFeature.set(name, area.id);
    }
  }
}

function areaLabel(area) {
  if (!area) return "";
  if (area.id === state.root && area.level === "city") return area.name || t("city");
  return area.name;
}

function featureLabel(featureName) {
  return lang() === "en" ? COUNTY_EN[state.featureCode.get(featureName)] || featureName : featureName;
}

// --- the map -------------------------------------------------------------------------------------------------

function mapData() {
  return [...state.featureCode.keys()].map((name) => {
    const area = state.areas.get(state.areaOfFeature.get(name));
    const colour = area ? STATUS_COLOURS[area.status] : NO_DATA;
    // The county in focus (or holding the focus) is outlined; hovering keeps the status colour, only the outline
    // changes, so that the colour always means the status.
    const focused = area ? state.focus !== state.root && within(state.focus, area.id) : false;
    return {
      name,
      value: area ? area.devices : null,
      itemStyle: { areaColor: colour, borderColor: focused ? "#0d47a1" : "#ffffff", borderWidth: focused ? 3 : 1 },
      emphasis: { itemStyle: { areaColor: colour, borderColor: "#0d47a1", borderWidth: 2 } },
    };
  });
}

function mapTooltip(params) {
  const area = state.areas.get(state.areaOfFeature.get(params.name));
  if (!area) return escapeLines([featureLabel(params.name), t("status.unknown")]);
  return escapeLines([
    `${featureLabel(params.name)} · ${area.name}`,
    `${t("col.status")}: ${t(`status.${area.status}`)}`,
    `${t("col.devices")}: ${area.devices}  ${t("col.down")}: ${area.down}  ${t("col.alerts")}: ${area.alerts}`,
  ]);
}

function drawMap(full) {
  const series = {
    type: "map", map: "huanggang", roam: false, selectedMode: false, data: mapData(),
    left: "2%", right: "2%", top: "2%", bottom: "2%",
    label: { show: true, formatter: (p) => featureLabel(p.name), fontSize: WALL ? 22 : 12, color: "#1a1a1a" },
    emphasis: { label: { show: true } },
  };
  if (!full) {
    mapChart.setOption({ series: [{ data: series.data, label: series.label }] });
    return;
  }
  mapChart.setOption({
    animation: false,
    tooltip: { trigger: "item", formatter: mapTooltip },
    series: [series],
  }, true);
}

// --- the area table ------------------------------------------------------------------------------------------

function tableAreas() {
  const focus = state.areas.get(state.focus);
  const rows = childrenOf(state.focus);
  const list = rows.length ? rows : [focus];
  const { key, dir } = state.sort;
  if (!key) return list;
  const value = (area) => (key === "status" ? STATUS_RANK[area.status] : area[key]);
  return [...list].sort((a, b) => {
    const x = value(a);
    const y = value(b);
    return (typeof x === "string" ? x.localeCompare(y, lang()) : x - y) * dir;
  });
}

function areaRow(area) {
  const row = el("tr", { tabIndex: -1, dataset: { areaId: area.id } },
    el("th", { scope: "row" }, areaLabel(area)),
    statusCell(area.status),
    el("td", { className: "num" }, area.devices),
    el("td", { className: "num" }, area.down),
    el("td", { className: "num" }, area.alerts));
  return row;
}

function updateAreaRow(row, area) {
  const cells = row.children;
  setStatusCell(cells[1], area.status);
  cells[2].textContent = area.devices;
  cells[3].textContent = area.down;
  cells[4].textContent = area.alerts;
}

function drawTable() {
  const tbody = document.querySelector("#areas tbody");
  state.areaRows.clear();
  const rows = tableAreas().map((area) => {
    const row = areaRow(area);
    state.areaRows.set(area.id, row);
    return row;
  });
  if (rows.length) rows[0].tabIndex = 0;
  tbody.replaceChildren(...rows);
  for (const th of document.querySelectorAll("#areas th[data-key]")) {
    const sorted = th.dataset.key === state.sort.key;
    th.setAttribute("aria-sort", sorted ? (state.sort.dir > 0 ? "ascending" : "descending") : "none");
  }
  document.getElementById("focus-name").textContent = areaLabel(state.areas.get(state.focus));
}

function drawCrumbs() {
  const nav = document.getElementById("crumbs");
  const parts = [];
  for (const area of ancestry(state.focus).filter((a) => a.level !== "province" || a.id === state.focus)) {
    if (parts.length) parts.push(el("span", { className: "sep", ariaHidden: "true" }, "›"));
    const button = el("button", { type: "button", dataset: { areaId: area.id } }, areaLabel(area));
    if (area.id === state.focus) button.setAttribute("aria-current", "location");
    parts.push(button);
  }
  nav.replaceChildren(...parts);
}

// --- the drill-down ------------------------------------------------------------------------------------------

function treeNode(area, depth) {
  const node = {
    id: area.id, name: area.name, value: Math.max(area.devices, 1), status: area.status,
    itemStyle: { color: STATUS_COLOURS[area.status] },
  };
  if (depth > 0) {
    const kids = childrenOf(area.id);
    if (kids.length) node.children = kids.map((kid) => treeNode(kid, depth - 1));
  }
  return node;
}

function drillTooltip(params) {
  const area = state.areas.get(params.data && params.data.id);
  if (!area) return "";
  return escapeLines([
    area.name,
    `${t("col.status")}: ${t(`status.${area.status}`)}`,
    `${t("col.devices")}: ${area.devices}  ${t("col.down")}: ${area.down}  ${t("col.alerts")}: ${area.alerts}`,
  ]);
}

let drillDrawn = 0;
let drillTimer = null;

function drawDrill() {
  drillDrawn = performance.now();
  const kids = childrenOf(state.focus);
  const data = (kids.length ? kids : [state.areas.get(state.focus)]).map((area) => treeNode(area, 1));
  drillChart.setOption({
    animation: false,
    tooltip: { formatter: drillTooltip },
    series: [{
      type: "treemap", data, roam: false, nodeClick: false, breadcrumb: { show: false },
      width: "100%", height: "100%", top: 0, left: 0,
      label: { show: true, formatter: (p) => p.name, fontSize: WALL ? 18 : 11, color: "#111" },
      upperLabel: { show: true, height: WALL ? 30 : 18, color: "#111", fontSize: WALL ? 18 : 12 },
      levels: [
        { itemStyle: { borderColor: "#ffffff", borderWidth: 3, gapWidth: 3 } },
        { itemStyle: { borderColor: "#ffffff", borderWidth: 1, gapWidth: 1 } },
      ],
    }],
  }, true);
}

function drillSoon() {
  if (drillTimer) return;
  const wait = Math.max(0, DRILL_MIN_INTERVAL_MS - (performance.now() - drillDrawn));
  drillTimer = setTimeout(() => {
    drillTimer = null;
    drawDrill();
  }, wait);
}

// --- devices of the focus ------------------------------------------------------------------------------------

let devicesAsked = 0;

async function loadDevices() {
  const table = document.getElementById("devices");
  const hint = document.getElementById("devices-hint");
  const focus = state.areas.get(state.focus);
  state.deviceRows.clear();
  state.devices.clear();
  table.tBodies[0].replaceChildren();
  if (!focus || focus.level === "city" || focus.level === "province") {
    table.hidden = true;
    hint.hidden = false;
    hint.textContent = t("devices.hint");
    return;
  }
  const asked = ++devicesAsked;
  const answer = await getJSON(`/api/overview/devices?area=${encodeURIComponent(focus.id)}`);
  if (asked !== devicesAsked) return; // the focus moved on meanwhile
  for (const device of answer.devices) state.devices.set(device.name, device);
  drawDevices();
}

function deviceRow(device) {
  const link = el("a", { href: `/device/${encodeURIComponent(device.name)}` }, device.name);
  return el("tr", { tabIndex: -1, dataset: { device: device.name } },
    el("th", { scope: "row" }, link),
    statusCell(device.status),
    el("td", {}, device.role ?? ""),
    el("td", {}, device.platform ?? ""),
    el("td", { className: "num" }, device.alerts ?? 0));
}

function drawDevices() {
  const table = document.getElementById("devices");
  const hint = document.getElementById("devices-hint");
  const rows = [...state.devices.values()]
    .sort((a, b) => STATUS_RANK[a.status] - STATUS_RANK[b.status] || a.name.localeCompare(b.name))
    .map((device) => {
      const row = deviceRow(device);
      state.deviceRows.set(device.name, row);
      return row;
    });
  if (rows.length) rows[0].tabIndex = 0;
  table.tBodies[0].replaceChildren(...rows);
  table.hidden = rows.length === 0;
  hint.hidden = rows.length > 0;
  if (!rows.length) hint.textContent = t("devices.none");
}

// --- panels --------------------------------------------------------------------------------------------------

function alertText(alert) {
  const labels = alert.labels || {};
  const where = labels.device || labels.area || labels.link || "";
  const summary = (alert.annotations && alert.annotations.summary) || "";
  return [`[${alert.severity ?? ""}] ${alert.rule ?? ""}`, where, summary].filter(Boolean).join(" — ");
}

function drawAlerts() {
  const alerts = state.alerts || { firing: 0, pending: 0, outages: [], top: [] };
  document.getElementById("alerts-counts").textContent = t("alerts.counts", alerts);
  document.getElementById("outages").replaceChildren(...(alerts.outages || []).map((outage) => el("li", {
    className: "outage", dataset: { area: outage.area },
  }, t("alerts.outage", {
    name: outage.name, down: outage.devices_down, suppressed: outage.alerts_suppressed, since: formatTime(outage.since),
  }))));
  const top = (alerts.top || []).map((alert) => el("li", { className: `alert sev-${alert.severity}` }, alertText(alert)));
  if (!top.length && !(alerts.outages || []).length) top.push(el("li", { className: "none" }, t("alerts.none")));
  document.getElementById("alerts-top").replaceChildren(...top);
}

function drawPanels() {
  const panels = state.panels || {};
  const rollouts = panels.rollouts || [];
  document.getElementById("rollouts").replaceChildren(...(rollouts.length ? rollouts.map((job) => el("div", {
    className: "rollout",
  }, el("h3", {}, `${job.title ?? job.job} · ${job.state}`), ...job.counties.map((county) => el("div", {
    className: "county-progress",
  }, el("label", {}, t("rollouts.county", county)), el("progress", { max: county.total || 1, value: county.done }))))) :
    [el("p", { className: "none" }, t("rollouts.none"))]));

  const compliance = panels.compliance || { by_county: [], by_rule: [] };
  const complianceParts = [];
  if (compliance.by_county.length) {
    complianceParts.push(el("h3", {}, t("compliance.byCounty")), simpleTable(
      [["name", t("col.name")], ["passed", t("col.passed"), true], ["failed", t("col.failed"), true]],
      compliance.by_county));
  }
  if (compliance.by_rule.length) {
    complianceParts.push(el("h3", {}, t("compliance.byRule")), simpleTable(
      [[(r) => r.title || r.rule, t("col.rule")], ["failed", t("col.failed"), true]], compliance.by_rule));
  }
  document.getElementById("compliance").replaceChildren(
    ...(complianceParts.length ? complianceParts : [el("p", { className: "none" }, t("compliance.none"))]));

  const hot = (panels.capacity && panels.capacity.hot) || [];
  document.getElementById("capacity").replaceChildren(hot.length ? simpleTable([
    ["link", t("col.link")], [(r) => areaLabel(state.areas.get(r.area)) || r.area, t("col.area")],
    ["carrier", t("col.carrier")], [(r) => (r.p95_30d_pct === null ? null : `${Number(r.p95_30d_pct).toFixed(1)}%`),
      t("col.p95"), true], ["days_to_90", t("col.days90"), true],
  ], hot) : el("p", { className: "none" }, t("capacity.none")));

  // The carriers' SLA figures of the month so far, as yiwang last computed them (hourly): kept or broken.
  const sla = panels.carriers || { carriers: [] };
  const pct = (v) => (v === null || v === undefined ? null : `${Number(v).toFixed(3)}%`);
  const ms = (v) => (v === null || v === undefined ? null : `${Number(v).toFixed(1)} ms`);
  const kept = (v) => (v === true ? t("sla.kept") : v === false ? t("sla.broken") : null);
  const carrierParts = [];
  if (sla.month) carrierParts.push(el("p", { className: "sla-month" }, t("carriers.month", sla)));
  if (sla.problem) carrierParts.push(el("p", { className: "problem" }, sla.problem));
  if ((sla.carriers || []).length) {
    carrierParts.push(simpleTable([
      [(r) => r.name_zh || r.carrier, t("col.carrier")], ["links", t("col.links"), true],
      [(r) => pct(r.availability_pct), t("col.availability"), true], [(r) => pct(r.sla_availability_pct), t("col.slaAvailability"), true],
      [(r) => kept(r.meets_sla), t("col.meetsSla")], ["outages", t("col.outages"), true],
      [(r) => ms(r.rtt_mean_ms), t("col.rttMean"), true], [(r) => ms(r.sla_latency_ms), t("col.slaLatency"), true],
      [(r) => kept(r.meets_latency), t("col.meetsLatency")],
    ], sla.carriers));
  } else if (!sla.problem) carrierParts.push(el("p", { className: "none" }, t("carriers.none")));
  document.getElementById("carriers").replaceChildren(...carrierParts);
}

function drawSummary() {
  const root = state.areas.get(state.root);
  if (!root) return;
  document.getElementById("summary").textContent = t("summary", root);
  document.getElementById("updated").textContent = t("updated", { time: formatTime(state.generated) });
}

// --- focus and navigation ------------------------------------------------------------------------------------

function setFocus(id, { push = true } = {}) {
  if (!state.areas.has(id)) id = state.root;
  state.focus = id;
  if (push) {
    const url = new URL(location.href);
    if (id === state.root) url.searchParams.delete("area");
    else url.searchParams.set("area", id);
    history.pushState({ area: id }, "", url);
  }
  drawTable();
  drawCrumbs();
  drawMap(false);
  drawDrill();
  loadDevices().catch(reportError);
}

function drawAll() {
  drawMap(true);
  drawTable();
  drawCrumbs();
  drawDrill();
  drawDevices();
  drawAlerts();
  drawPanels();
  drawSummary();
}

// --- live updates --------------------------------------------------------------------------------------------

const pending = { areas: new Map(), devices: new Map(), alerts: null, panels: null };
let frame = 0;
let flushed = [];

function schedule() {
  if (!frame) frame = requestAnimationFrame(flush);
}

function flush() {
  frame = 0;
  let mapDirty = false;
  let drillDirty = false;
  for (const [id, area] of pending.areas) {
    const known = state.areas.get(id);
    if (!known) continue;
    Object.assign(known, area);
    const row = state.areaRows.get(id);
    if (row) updateAreaRow(row, known);
    if (known.level === "county") mapDirty = true;
    if (!drillDirty && within(id, state.focus)) drillDirty = true;
  }
  if (pending.areas.has(state.root)) drawSummary();
  for (const [name, change] of pending.devices) {
    const device = state.devices.get(name);
    if (!device) continue;
    device.status = change.status;
    const row = state.deviceRows.get(name);
    if (row) setStatusCell(row.children[1], change.status);
  }
  if (pending.alerts) {
    state.alerts = pending.alerts;
    drawAlerts();
  }
  if (pending.panels) {
    state.panels = pending.panels;
    drawPanels();
  }
  pending.areas.clear();
  pending.devices.clear();
  pending.alerts = null;
  pending.panels = null;
  if (mapDirty) drawMap(false);
  if (drillDirty) drillSoon();
  const done = flushed;
  flushed = [];
  for (const resolve of done) resolve();
}

// Applies one event as the stream would deliver it; resolves once the DOM shows it (for tests and benchmarks).
function apply(type, data) {
  if (type === "areas") for (const area of data) pending.areas.set(area.id, area);
  else if (type === "devices") for (const device of data) pending.devices.set(device.name, device);
  else if (type === "alerts") pending.alerts = data;
  else if (type === "panels") pending.panels = data;
  state.generated = new Date().toISOString();
  schedule();
  return new Promise((resolve) => flushed.push(resolve));
}

let source = null;
let lost = false;

function connect() {
  source = new EventSource("/api/overview/stream");
  for (const type of ["areas", "devices", "alerts", "panels"]) {
    source.addEventListener(type, (event) => {
      try {
        apply(type, JSON.parse(event.data));
      } catch (error) {
        reportError(error);
      }
    });
  }
  source.addEventListener("open", () => {
    showBanner("");
    document.documentElement.dataset.live = "1";
    if (lost) {
      lost = false;
      resync().catch(reportError); // what changed while the stream was down came as no event
    }
  });
  source.addEventListener("error", () => {
    lost = true;
    document.documentElement.dataset.live = "0";
    showBanner(t("banner.lost"));
    if (source.readyState === EventSource.CLOSED) {
      // The browser gives up on an answer that is not a stream (a 401 after the session ended, say): ask whether
      // we are still logged in (getJSON goes to the login form if not) and try again.
      source.close();
      setTimeout(() => getJSON("/api/auth/me").then(connect, () => setTimeout(connect, 3000)), 3000);
    }
  });
}

async function resync() {
  const [overview, panels] = await Promise.all([getJSON("/api/overview"), getJSON("/api/overview/panels")]);
  loadAreas(overview);
  state.panels = panels;
  if (!state.areas.has(state.focus)) state.focus = state.root;
  drawAll();
  await loadDevices();
}

function reportError(error) {
  if (error instanceof Expired) return; // on the way to the login form
  console.warn("yiwang:", error && error.message ? error.message : error);
}

// --- wall display --------------------------------------------------------------------------------------------

function cycleCounties() {
  let next = 0;
  setInterval(() => {
    const list = counties();
    if (!list.length) return;
    setFocus(list[next % list.length].id, { push: false });
    next += 1;
  }, CYCLE_S * 1000);
}

// --- start ---------------------------------------------------------------------------------------------------

function wireControls() {
  for (const th of document.querySelectorAll("#areas th[data-key]")) {
    th.querySelector("button").addEventListener("click", () => {
      const key = th.dataset.key;
      // First click: names A→Z, the worst status first, the largest number first; a second click reverses.
      const first = key === "name" || key === "status" ? 1 : -1;
      state.sort = { key, dir: state.sort.key === key ? -state.sort.dir : first };
      drawTable();
    });
  }
  keyboardRows(document.querySelector("#areas tbody"), (row) => setFocus(row.dataset.areaId));
  keyboardRows(document.querySelector("#devices tbody"), (row) => {
    location.assign(`/device/${encodeURIComponent(row.dataset.device)}`);
  });
  document.getElementById("crumbs").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-area-id]");
    if (button) setFocus(button.dataset.areaId);
  });
  document.getElementById("logout").addEventListener("click", async () => {
    await fetch("/api/auth/logout", {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": sessionStorage.getItem("yiwang.csrf") || "" },
    });
    location.assign("/login");
  });
  mapChart.on("click", (p) => {
    const id = state.areaOfFeature.get(p.name);
    if (id) setFocus(id);
  });
  drillChart.on("click", (p) => {
    if (p.data && p.data.id) setFocus(p.data.id);
  });
  window.addEventListener("popstate", () => {
    setFocus(new URLSearchParams(location.search).get("area") || state.root, { push: false });
  });
  window.addEventListener("resize", () => {
    mapChart.resize();
    drillChart.resize();
  });
}

async function start() {
  if (WALL) {
    document.documentElement.classList.add("wall");
    document.body.classList.add("wall");
  }
  setupSwitch(() => drawAll());
  const legend = document.getElementById("legend");
  legend.replaceChildren(...Object.keys(STATUS_COLOURS).map((status) => el("li", { className: `key status-${status}` },
    el("span", { className: "swatch" }), el("span", { dataset: { i18n: `status.${status}` } }, t(`status.${status}`)))));
  const panelsPromise = getJSON("/api/overview/panels");
  const [overview, geojson] = await Promise.all([
    getJSON("/api/overview"),
    fetch("/static/vendor/huanggang-421100.geojson").then((r) => r.json()),
  ]);
  loadAreas(overview);
  window.echarts.registerMap("huanggang", geojson);
  matchFeatures(geojson);
  mapChart = window.echarts.init(document.getElementById("map"));
  drillChart = window.echarts.init(document.getElementById("drill"));
  state.focus = state.areas.has(params.get("area")) ? params.get("area") : state.root;
  drawMap(true);
  drawTable();
  drawCrumbs();
  drawSummary();
  drawAlerts();
  // The first screen is the map and the table: mark it drawn on the next frame, after layout and paint.
  requestAnimationFrame(() => {
    document.documentElement.dataset.ready = String(Math.round(performance.now()));
  });
  wireControls();
  drawDrill();
  loadDevices().catch(reportError);
  panelsPromise.then((panels) => {
    state.panels = panels;
    drawPanels();
  }, reportError);
  connect();
  if (WALL) cycleCounties();
}

window.yiwangOverview = { apply, state };
start().catch((error) => {
  reportError(error);
  document.documentElement.dataset.failed = String(error && error.message);
});

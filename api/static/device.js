// One device: facts, interfaces with the 24 h traffic of the chosen one, alerts, configuration versions,
// compliance and IPv6 readiness. sysName, ifAlias and every other device string are set as text only.

import { setupSwitch, t } from "./i18n.js";
import { el, escapeLines, formatBps, formatTime, getJSON, keyboardRows, showBanner, statusCell } from "./common.js";

const name = decodeURIComponent(location.pathname.replace(/^\/device\//, ""));
let device = null;
let chosen = null;
let chart = null;

function fact(key, value) {
  return [el("dt", {}, t(key)), el("dd", {}, value === null || value === undefined || value === "" ? "–" : String(value))];
}

function drawFacts() {
  document.getElementById("device-name").textContent = device.name;
  document.title = `${device.name} · yiwang`;
  const status = document.getElementById("device-status");
  status.textContent = t(`status.${device.status}`);
  status.className = `summary status-${device.status}`;
  const area = (device.area || []).map((a) => a.name).join(" › ");
  document.getElementById("facts").replaceChildren(
    ...fact("fact.sysname", device.sysname), ...fact("fact.status", t(`status.${device.status}`)),
    ...fact("fact.platform", device.platform), ...fact("fact.role", device.role),
    ...fact("fact.address", device.address), ...fact("fact.address6", device.address6), ...fact("fact.area", area));
}

function drawInterfaces() {
  const rows = (device.interfaces || []).map((iface, index) => el("tr", {
    tabIndex: index === 0 ? 0 : -1, dataset: { interface: iface.name },
    className: iface.name === chosen ? "chosen" : "",
  },
  el("th", { scope: "row" }, iface.name),
  el("td", { className: "alias" }, iface.alias ?? ""),
  el("td", { className: `oper oper-${iface.oper}` }, iface.oper ?? ""),
  el("td", { className: "num" }, formatBps(iface.speed_bps)),
  el("td", { className: "num" }, formatBps(iface.in_bps)),
  el("td", { className: "num" }, formatBps(iface.out_bps))));
  document.querySelector("#interfaces tbody").replaceChildren(...rows);
}

function chartTooltip(points) {
  const list = Array.isArray(points) ? points : [points];
  if (!list.length) return "";
  const when = new Date(list[0].value[0]).toLocaleString(document.documentElement.lang);
  return escapeLines([when, ...list.map((p) => `${p.seriesName}: ${formatBps(p.value[1])}`)]);
}

// The API's points are [t, bps] with t in seconds or milliseconds since 1970, or an ISO time.
function toMs(time) {
  if (typeof time === "number") return time < 1e12 ? time * 1000 : time;
  return new Date(time).getTime();
}

function drawTraffic() {
  const iface = (device.interfaces || []).find((i) => i.name === chosen);
  document.getElementById("traffic-iface").textContent = iface ? iface.name : "";
  const history = (iface && iface.history) || { in: [], out: [] };
  const empty = !history.in.length && !history.out.length;
  document.getElementById("traffic-empty").hidden = !empty;
  document.getElementById("traffic").hidden = empty;
  if (empty) return; // ECharts cannot lay out a hidden box (and says so in the console)
  if (!chart) chart = window.echarts.init(document.getElementById("traffic"));
  chart.setOption({
    animation: false,
    tooltip: { trigger: "axis", formatter: chartTooltip },
    legend: { data: [t("series.in"), t("series.out")] },
    grid: { left: 70, right: 20, top: 30, bottom: 30 },
    xAxis: { type: "time" },
    yAxis: { type: "value", axisLabel: { formatter: (v) => formatBps(v) } },
    series: [
      { name: t("series.in"), type: "line", showSymbol: false, data: history.in.map(([x, y]) => [toMs(x), y]) },
      { name: t("series.out"), type: "line", showSymbol: false, data: history.out.map(([x, y]) => [toMs(x), y]) },
    ],
  }, true);
}

function drawLists() {
  const alerts = (device.alerts || []).map((a) => el("li", { className: `alert sev-${a.severity}` },
    [`[${a.severity ?? ""}] ${a.rule ?? ""}`, (a.annotations && a.annotations.summary) || ""].filter(Boolean).join(" — ")));
  document.getElementById("device-alerts").replaceChildren(
    ...(alerts.length ? alerts : [el("li", { className: "none" }, t("alerts.none"))]));
  const configs = (device.configs || []).map((c) => el("li", {},
    el("span", { className: "mono" }, String(c.commit ?? c.version ?? "").slice(0, 12)), ` ${formatTime(c.time)}`));
  document.getElementById("configs").replaceChildren(
    ...(configs.length ? configs : [el("li", { className: "none" }, t("none"))]));

  const compliance = device.compliance;
  const complianceBox = document.getElementById("device-compliance");
  if (!compliance) complianceBox.replaceChildren(el("p", { className: "none" }, t("compliance.none")));
  else {
    complianceBox.replaceChildren(el("p", {}, t("compliance.score", { score: compliance.score })),
      compliance.failed.length
        ? el("ul", { className: "items" }, ...compliance.failed.map((f) => el("li", {}, `${f.rule}: ${f.title ?? ""}`)))
        : el("p", {}, t("compliance.allpassed")));
  }
  const ipv6 = device.ipv6;
  const ipv6Box = document.getElementById("ipv6");
  if (!ipv6) ipv6Box.replaceChildren(el("p", { className: "none" }, t("none")));
  else {
    ipv6Box.replaceChildren(el("p", { className: ipv6.ready ? "status-up" : "status-degraded" },
      t(ipv6.ready ? "ipv6.ready" : "ipv6.notready")),
    el("ul", { className: "items" }, ...(ipv6.problems || []).map((p) => el("li", {},
      typeof p === "string" ? p : [p.check, p.reason].filter(Boolean).join(": ") || JSON.stringify(p)))));
  }
}

function drawAll() {
  drawFacts();
  drawInterfaces();
  drawTraffic();
  drawLists();
}

async function start() {
  setupSwitch(() => device && drawAll());
  try {
    device = await getJSON(`/api/overview/devices/${encodeURIComponent(name)}`);
  } catch (error) {
    if (error.status === 404) {
      document.getElementById("device-name").textContent = name;
      showBanner(t("device.notfound"));
      return;
    }
    throw error;
  }
  const busiest = [...(device.interfaces || [])].sort((a, b) => (b.history?.in?.length || 0) - (a.history?.in?.length || 0)
    || (b.in_bps || 0) - (a.in_bps || 0))[0];
  chosen = busiest ? busiest.name : null;
  drawAll();
  keyboardRows(document.querySelector("#interfaces tbody"), (row) => {
    chosen = row.dataset.interface;
    for (const other of row.parentElement.children) other.classList.toggle("chosen", other === row);
    drawTraffic();
  });
  window.addEventListener("resize", () => chart && chart.resize());
  document.documentElement.dataset.ready = String(Math.round(performance.now()));
}

start().catch((error) => {
  console.warn("yiwang:", error && error.message);
  document.documentElement.dataset.failed = String(error && error.message);
});

// Small helpers shared by the pages. Everything from the server is set as text (textContent, ECharts text
// options); nothing is ever parsed as HTML.

import { t } from "./i18n.js";

export const STATUS_COLOURS = { up: "#2e7d32", degraded: "#f9a825", down: "#c62828", unknown: "#9e9e9e" };

export class Expired extends Error {}

export async function getJSON(url) {
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (response.status === 401) {
    location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
    throw new Expired(url);
  }
  if (!response.ok) {
    const error = new Error(`${url}: ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return response.json();
}

// el("td", {className: "num"}, "text") — children are strings (as text nodes) or elements.
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
  }
  return node;
}

export function statusCell(status) {
  return el("td", { className: `status status-${status}` }, t(`status.${status}`));
}

export function setStatusCell(cell, status) {
  cell.className = `status status-${status}`;
  cell.textContent = t(`status.${status}`);
}

// ECharts tooltips are HTML: every piece of data goes through its own escaper before it is joined.
export function escapeLines(lines) {
  return lines.map((line) => window.echarts.format.encodeHTML(String(line))).join("<br>");
}

export function formatTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString(document.documentElement.lang);
}

export function formatBps(bps) {
  if (bps === null || bps === undefined) return "–";
  const units = ["bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s"];
  let value = Number(bps);
  let unit = 0;
  while (Math.abs(value) >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value.toFixed(value >= 100 || unit === 0 ? 0 : 1)} ${units[unit]}`;
}

export function showBanner(text) {
  const banner = document.getElementById("banner");
  if (!banner) return;
  banner.textContent = text;
  banner.hidden = !text;
}

// Rows navigable with the arrow keys (one of them in the tab order at a time), Enter to open.
export function keyboardRows(tbody, onEnter) {
  tbody.addEventListener("keydown", (event) => {
    const row = event.target.closest("tr");
    if (!row) return;
    let next = null;
    if (event.key === "ArrowDown") next = row.nextElementSibling;
    else if (event.key === "ArrowUp") next = row.previousElementSibling;
    else if (event.key === "Home") next = tbody.firstElementChild;
    else if (event.key === "End") next = tbody.lastElementChild;
    else if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      onEnter(row);
      return;
    } else return;
    event.preventDefault();
    if (next) focusRow(tbody, next);
  });
  tbody.addEventListener("click", (event) => {
    const row = event.target.closest("tr");
    if (row && !event.target.closest("a")) {
      focusRow(tbody, row);
      onEnter(row);
    }
  });
}

export function focusRow(tbody, row) {
  for (const other of tbody.querySelectorAll("tr[tabindex='0']")) other.tabIndex = -1;
  row.tabIndex = 0;
  row.focus();
}

// A table built from a list of objects, for the panels whose columns are the data's own keys.
export function simpleTable(columns, rows) {
  const head = el("tr", {}, ...columns.map(([, label, num]) => el("th", { scope: "col", className: num ? "num" : "" }, label)));
  const body = rows.map((row) => el("tr", {}, ...columns.map(([key, , num]) => {
    const value = typeof key === "function" ? key(row) : row[key];
    return el("td", { className: num ? "num" : "" }, value === null || value === undefined ? "–" : String(value));
  })));
  return el("table", { className: "data" }, el("thead", {}, head), el("tbody", {}, ...body));
}

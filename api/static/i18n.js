// Words of the pages in Chinese (the default) and English. Data (area and device names, device strings) is never
// translated here and never goes through HTML.

const WORDS = {
  zh: {
    "app.title": "一网 · 城市电子政务外网",
    "login.name": "用户名", "login.password": "密码", "login.submit": "登录",
    "login.wrong": "用户名或密码错误，或账号因多次失败已被锁定",
    "login.directory": "目录服务（LDAP）无法连接，请稍后再试或使用本地账号",
    "login.off": "配置中已关闭认证",
    "login.failed": "登录失败",
    "login.empty": "请输入用户名和密码",
    "logout": "退出",
    "overview.title": "一网 · 城市总览",
    "map.title": "各县（市、区）状态", "map.label": "黄冈市各县（市、区）状态地图",
    "areas.title": "区域", "areas.caption": "点击表头排序；方向键选择，回车进入下一级",
    "crumbs": "位置",
    "drill.title": "逐级下钻", "devices.title": "设备", "devices.hint": "选择一个县、乡镇或村查看设备",
    "devices.none": "该区域没有设备",
    "col.name": "名称", "col.status": "状态", "col.devices": "设备", "col.down": "中断", "col.alerts": "告警",
    "col.device": "设备", "col.role": "角色", "col.platform": "平台", "col.interface": "接口", "col.alias": "描述",
    "col.oper": "状态", "col.speed": "速率", "col.in": "入", "col.out": "出",
    "col.rule": "规则", "col.passed": "通过", "col.failed": "未通过", "col.link": "链路", "col.area": "区域",
    "col.carrier": "运营商", "col.p95": "30天P95", "col.days90": "距90%天数",
    "status.up": "正常", "status.degraded": "部分异常", "status.down": "中断", "status.unknown": "未知",
    "alerts.title": "告警", "alerts.counts": "触发 {firing} 条，待定 {pending} 条",
    "alerts.outage": "{name} 区域中断：{down} 台设备中断，已合并 {suppressed} 条告警，自 {since}",
    "alerts.none": "没有告警",
    "rollouts.title": "变更进度", "rollouts.none": "没有进行中的变更",
    "rollouts.county": "{name}：完成 {done} / {total}，失败 {failed}",
    "compliance.title": "合规", "compliance.byCounty": "按县", "compliance.byRule": "按规则",
    "compliance.none": "尚无合规报告",
    "capacity.title": "容量热点", "capacity.none": "尚无容量数据",
    "carriers.title": "运营商 SLA", "carriers.none": "尚无运营商数据",
    "carriers.month": "{month} 月至今（每小时计算）", "sla.kept": "达标", "sla.broken": "未达标",
    "col.links": "链路", "col.availability": "可用率", "col.slaAvailability": "SLA 可用率",
    "col.meetsSla": "可用率达标", "col.outages": "中断次数", "col.rttMean": "平均时延",
    "col.slaLatency": "SLA 时延", "col.meetsLatency": "时延达标",
    "summary": "设备 {devices} 台：正常 {up}，中断 {down}，未知 {unknown}",
    "updated": "更新于 {time}",
    "banner.lost": "与服务器的实时连接已断开，正在重连……",
    "banner.expired": "会话已过期，请重新登录",
    "city": "全市",
    "device.facts": "概况", "device.interfaces": "接口", "device.traffic": "24 小时流量",
    "device.nohistory": "没有历史数据（未配置 capacity.history_url）", "device.configs": "配置版本",
    "device.notfound": "没有这台设备",
    "fact.sysname": "sysName（设备上报）", "fact.platform": "平台", "fact.role": "角色", "fact.address": "地址",
    "fact.address6": "IPv6 地址", "fact.area": "区域", "fact.status": "状态",
    "compliance.score": "得分 {score}", "compliance.allpassed": "全部规则通过",
    "ipv6.ready": "IPv6 就绪", "ipv6.notready": "IPv6 未就绪", "none": "无", "series.in": "入", "series.out": "出",
  },
  en: {
    "app.title": "yiwang · City e-government extranet",
    "login.name": "User name", "login.password": "Password", "login.submit": "Log in",
    "login.wrong": "Wrong name or password, or the account is locked after too many failures",
    "login.directory": "The directory (LDAP) cannot be reached; try again, or use a local account",
    "login.off": "Authentication is turned off in the configuration",
    "login.failed": "Login failed",
    "login.empty": "Enter a user name and a password",
    "logout": "Log out",
    "overview.title": "yiwang · City overview",
    "map.title": "Counties by status", "map.label": "Map of Huanggang's counties by status",
    "areas.title": "Areas", "areas.caption": "Click a header to sort; arrow keys to move, Enter to go down a level",
    "crumbs": "Location",
    "drill.title": "Drill down", "devices.title": "Devices", "devices.hint": "Choose a county, township or village to list its devices",
    "devices.none": "No devices in this area",
    "col.name": "Name", "col.status": "Status", "col.devices": "Devices", "col.down": "Down", "col.alerts": "Alerts",
    "col.device": "Device", "col.role": "Role", "col.platform": "Platform", "col.interface": "Interface",
    "col.alias": "Description", "col.oper": "State", "col.speed": "Speed", "col.in": "In", "col.out": "Out",
    "col.rule": "Rule", "col.passed": "Passed", "col.failed": "Failed", "col.link": "Link", "col.area": "Area",
    "col.carrier": "Carrier", "col.p95": "30-day p95", "col.days90": "Days to 90%",
    "status.up": "up", "status.degraded": "degraded", "status.down": "down", "status.unknown": "unknown",
    "alerts.title": "Alerts", "alerts.counts": "{firing} firing, {pending} pending",
    "alerts.outage": "Area outage in {name}: {down} devices down, {suppressed} alerts rolled up, since {since}",
    "alerts.none": "No alerts",
    "rollouts.title": "Rollouts", "rollouts.none": "No change job running",
    "rollouts.county": "{name}: {done} of {total} done, {failed} failed",
    "compliance.title": "Compliance", "compliance.byCounty": "By county", "compliance.byRule": "By rule",
    "compliance.none": "No compliance report yet",
    "capacity.title": "Capacity hot list", "capacity.none": "No capacity figures yet",
    "carriers.title": "Carrier SLAs", "carriers.none": "No carrier figures yet",
    "carriers.month": "{month} so far (computed hourly)", "sla.kept": "kept", "sla.broken": "broken",
    "col.links": "Links", "col.availability": "Availability", "col.slaAvailability": "SLA availability",
    "col.meetsSla": "Availability kept", "col.outages": "Outages", "col.rttMean": "Mean latency",
    "col.slaLatency": "SLA latency", "col.meetsLatency": "Latency kept",
    "summary": "{devices} devices: {up} up, {down} down, {unknown} unknown",
    "updated": "updated {time}",
    "banner.lost": "The live connection to the server is lost; reconnecting…",
    "banner.expired": "The session has ended; log in again",
    "city": "City",
    "device.facts": "Facts", "device.interfaces": "Interfaces", "device.traffic": "Traffic, last 24 h",
    "device.nohistory": "No history (capacity.history_url is not configured)", "device.configs": "Configuration versions",
    "device.notfound": "No such device",
    "fact.sysname": "sysName (from the device)", "fact.platform": "Platform", "fact.role": "Role",
    "fact.address": "Address", "fact.address6": "IPv6 address", "fact.area": "Area", "fact.status": "Status",
    "compliance.score": "score {score}", "compliance.allpassed": "every rule passed",
    "ipv6.ready": "IPv6 ready", "ipv6.notready": "IPv6 not ready", "none": "none", "series.in": "in", "series.out": "out",
  },
};

// English names of the counties, by their administrative code (the map's feature ids).
export const COUNTY_EN = {
  "421102": "Huangzhou", "421121": "Tuanfeng", "421122": "Hong'an", "421123": "Luotian", "421124": "Yingshan",
  "421125": "Xishui", "421126": "Qichun", "421127": "Huangmei", "421181": "Macheng", "421182": "Wuxue",
};

const KEY = "yiwang.lang";

export function language() {
  const asked = new URLSearchParams(location.search).get("lang");
  if (asked === "en" || asked === "zh") {
    localStorage.setItem(KEY, asked);
    return asked;
  }
  return localStorage.getItem(KEY) === "en" ? "en" : "zh";
}

let current = language();

export function lang() {
  return current;
}

export function t(key, values = {}) {
  const template = WORDS[current][key] ?? WORDS.zh[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

// The page's fixed words: elements marked data-i18n get their text, data-i18n-label their aria-label.
export function applyWords(root = document) {
  document.documentElement.lang = current === "en" ? "en" : "zh-CN";
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
  const button = document.getElementById("lang-switch");
  if (button) button.textContent = current === "en" ? "中文" : "English";
}

export function setupSwitch(onChange) {
  applyWords();
  const button = document.getElementById("lang-switch");
  if (!button) return;
  button.addEventListener("click", () => {
    current = current === "en" ? "zh" : "en";
    localStorage.setItem(KEY, current);
    const url = new URL(location.href);
    if (url.searchParams.has("lang")) {
      url.searchParams.set("lang", current);
      history.replaceState(history.state, "", url);
    }
    applyWords();
    if (onChange) onChange(current);
  });
}

// The login form: posts JSON to the API (which sets the session cookie) and goes on to the page asked for.

import { setupSwitch, t } from "./i18n.js";

setupSwitch();

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");

function say(key) {
  error.textContent = t(key);
  error.hidden = false;
}

// Only a path of this site: never an address elsewhere (//host or a scheme).
function next() {
  const asked = new URLSearchParams(location.search).get("next") || "/";
  return /^\/(?![/\\])/.test(asked) ? asked : "/";
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  const name = form.elements.name.value.trim();
  const password = form.elements.password.value;
  if (!name || !password) return say("login.empty");
  let response;
  try {
    response = await fetch("/api/auth/login", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ name, password }),
    });
  } catch {
    return say("login.failed");
  }
  if (response.ok) {
    const answer = await response.json();
    sessionStorage.setItem("yiwang.csrf", answer.csrf_token || "");
    location.assign(next());
    return;
  }
  say({ 401: "login.wrong", 503: "login.directory", 409: "login.off" }[response.status] || "login.failed");
});

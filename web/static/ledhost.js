// Shared by every page: the API call with the session's CSRF token, and the notice line.
"use strict";

const ledhost = (() => {
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

  // One API call. Resolves with the parsed JSON; rejects with an Error whose message is
  // the API's own ("code": "message") so the page can show it as is.
  async function api(method, path, body) {
    const options = { method, headers: { "X-CSRF-Token": csrf() }, credentials: "same-origin" };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path, options);
    let data = null;
    try { data = await response.json(); } catch (_) { /* not JSON */ }
    if (response.status === 401 && !path.startsWith("/api/v1/auth/")) {
      location.assign("/login?next=" + encodeURIComponent(location.pathname));
    }
    if (!response.ok) {
      const error = new Error((data && data.message) || response.statusText);
      error.code = data && data.code;
      error.status = response.status;
      error.body = data;
      throw error;
    }
    return data;
  }

  let noticeTimer = null;
  function notice(text, kind = "ok") {
    const box = document.getElementById("notice");
    if (!box) return;
    box.textContent = text;
    box.dataset.kind = kind;
    box.hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => { box.hidden = true; }, kind === "error" ? 8000 : 3000);
  }

  // Run an API call from a button: disabled while it runs, the outcome in the notice.
  async function act(button, work, done) {
    if (button) button.disabled = true;
    try {
      const result = await work();
      if (done) notice(done);
      return result;
    } catch (error) {
      notice(error.message, "error");
      return undefined;
    } finally {
      if (button) button.disabled = false;
    }
  }

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  document.addEventListener("DOMContentLoaded", () => {
    const logout = document.getElementById("logout");
    if (logout) {
      logout.addEventListener("click", async () => {
        await api("POST", "/api/v1/auth/logout").catch(() => {});
        location.assign("/login");
      });
    }
  });

  return { api, notice, act, el };
})();

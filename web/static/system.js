// The system page: display settings, config backup and restore, API tokens.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { api, act, notice, el } = ledhost;

  for (const form of document.querySelectorAll("form.section-form")) SchemaForm.section(form);

  document.getElementById("backup").addEventListener("click", (event) =>
    act(event.currentTarget, async () => {
      const { data } = await api("GET", "/api/v1/config/backup");
      const text = typeof data === "string" ? data : data.text;
      const link = el("a", {
        href: URL.createObjectURL(new Blob([text], { type: "text/plain" })),
        download: `ledhost-config-${new Date().toISOString().slice(0, 10)}.toml`,
      });
      document.body.append(link);
      link.click();
      link.remove();
    }, "Backup downloaded"));

  document.getElementById("restore-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = document.getElementById("restore-file").files[0];
    if (!file) return;
    const text = await file.text();
    act(event.submitter, () => api("POST", "/api/v1/config/restore", { text }),
      "Restored; the sign runs on the restored config");
  });

  const safeState = document.getElementById("safe-state");
  function showSafe(data) {
    const now = data.safe_mode ? "This run is in safe mode: only builtin plugins run." : "This run is normal.";
    const next = data.next_start_safe ? " The next start will be in safe mode." : "";
    safeState.textContent = now + next;
    document.getElementById("safe-on").hidden = data.next_start_safe;
    document.getElementById("safe-off").hidden = !data.next_start_safe;
  }
  api("GET", "/api/v1/safe-mode").then((r) => showSafe(r.data)).catch((e) => { safeState.textContent = e.message; });
  for (const [id, on] of [["safe-on", true], ["safe-off", false]]) {
    document.getElementById(id).addEventListener("click", (event) =>
      act(event.currentTarget, () => api("PUT", "/api/v1/safe-mode", { next_start: on }))
        .then((r) => r && showSafe(r.data)));
  }

  document.getElementById("restart").addEventListener("click", async (event) => {
    if (!confirm("Restart ledhost now? The panel goes dark for a few seconds.")) return;
    const button = event.currentTarget;
    await act(button, () => api("POST", "/api/v1/restart"), "Restarting…");
    button.disabled = true;
    // The web process restarts with the host: wait until both answer again.
    const started = Date.now();
    const wait = async () => {
      try {
        await api("GET", "/api/v1/status");
        notice("ledhost is running again");
        button.disabled = false;
      } catch (_) {
        if (Date.now() - started < 120000) setTimeout(wait, 1000);
        else { notice("ledhost has not come back; see its log", "error"); button.disabled = false; }
      }
    };
    setTimeout(wait, 2000);
  });

  const tokens = document.getElementById("tokens");
  async function loadTokens() {
    try {
      const { tokens: list } = await api("GET", "/api/v1/auth/tokens");
      tokens.replaceChildren(...(list.length ? list.map((t) => el("li", {},
        el("span", { text: `${t.name} ` }),
        el("span", { class: "muted", text: `created ${new Date(t.created * 1000).toLocaleString()} ` }),
        el("button", { type: "button", class: "small", text: "Revoke", "aria-label": `Revoke ${t.name}`,
          onclick: (e) => act(e.currentTarget,
            () => api("DELETE", `/api/v1/auth/tokens/${encodeURIComponent(t.id)}`), `Revoked ${t.name}`)
            .then(loadTokens) })))
        : [el("li", { class: "muted", text: "No tokens." })]));
    } catch (error) {
      tokens.replaceChildren(el("li", { class: "error", text: error.message }));
    }
  }
  document.getElementById("token-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = document.getElementById("token-name").value;
    const made = await act(event.submitter, () => api("POST", "/api/v1/auth/tokens", { name }));
    if (made) {
      const shown = document.getElementById("token-value");
      shown.replaceChildren(el("span", { text: "Copy it now; it is never shown again: " }),
        el("code", { text: made.token }));
      shown.hidden = false;
      loadTokens();
    }
  });
  loadTokens();

  const hostLog = document.getElementById("host-log");
  async function refreshLog() {
    try {
      const { data } = await api("GET", "/api/v1/logs?lines=200");
      const atBottom = hostLog.scrollTop + hostLog.clientHeight >= hostLog.scrollHeight - 4;
      hostLog.textContent = data.length ? data.map((r) =>
        `${new Date(r.time * 1000).toLocaleTimeString()} ${r.level} ${r.logger}: ${r.message}`).join("\n")
        : "No log records.";
      if (atBottom) hostLog.scrollTop = hostLog.scrollHeight;
    } catch (error) {
      hostLog.textContent = error.message;
    }
  }
  refreshLog();
  setInterval(refreshLog, 5000);
});

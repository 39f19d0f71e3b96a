// The system page's update card: the update check, an update or rollback with progress.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { api, act, notice, el } = ledhost;
  const state = document.getElementById("update-state");
  const startButton = document.getElementById("update-start");
  const rollbackButton = document.getElementById("update-rollback");
  const progress = document.getElementById("update-progress");
  let newest = null;

  function facts(pairs) {
    state.replaceChildren(...pairs.flatMap(([term, text]) =>
      [el("dt", { text: term }), el("dd", { text })]));
  }

  function show(data) {
    const index = data.index || {};
    const last = data.last;
    newest = index.newest || null;
    const pairs = [
      ["Running", `ledhost ${data.running}` + (data.current && data.current !== data.running ? ` (installed: ${data.current})` : "")],
      ["Previous version", data.previous || "none kept"],
      ["Newest on the index", index.newest
        ? index.newest + (index.stale ? " (from an earlier check)" : "")
        : (index.error ? "unknown" : "none")],
    ];
    if (index.error) pairs.push(["Index", index.error]);
    if (data.trial) pairs.push(["On trial", `${data.trial.version}: start ${data.trial.starts} of ${data.trial.max_starts}`]);
    if (last) {
      const when = new Date(last.at * 1000).toLocaleString();
      pairs.push(["Last " + last.action, `${last.result}: ${last.from || "?"} → ${last.to || "?"}, ${when}. ${last.reason}`]);
    }
    facts(pairs);
    startButton.hidden = !data.update_available;
    startButton.textContent = newest ? `Update to ${newest}` : "Update";
    rollbackButton.hidden = !data.previous;
  }

  async function check(refresh) {
    const { data } = await api("GET", "/api/v1/system/update" + (refresh ? "?refresh=1" : ""));
    show(data);
    return data;
  }

  // After the restart the API answers again; the outcome is then in the check.
  async function waitForRestart(started) {
    try {
      const data = await check(false);
      if (data.last && data.last.at * 1000 >= started - 5000) {
        notice(`${data.last.action}: ${data.last.result}. ${data.last.reason}`,
          data.last.result === "ok" ? "ok" : "error");
        return;
      }
    } catch (_) { /* restarting */ }
    if (Date.now() - started < 600000) setTimeout(() => waitForRestart(started), 2000);
    else notice("ledhost has not come back; see its log", "error");
  }

  async function follow(job, started) {
    try {
      const { data } = await api("GET", `/api/v1/store/jobs/${job.id}`);
      progress.textContent = data.lines.join("\n");
      if (data.state === "failed") { notice(data.error || "the update failed", "error"); check(false); return; }
      if (data.state === "done") { waitForRestart(started); return; }
      setTimeout(() => follow(job, started), 1000);
    } catch (_) {
      waitForRestart(started);  // the host is restarting: the job's host is gone
    }
  }

  async function run(button, body, question) {
    if (!confirm(question)) return;
    const started = Date.now();
    const made = await act(button, () => api("POST", "/api/v1/system/update", body));
    if (made) {
      progress.hidden = false;
      progress.textContent = "Starting…";
      follow(made.data, started);
    }
  }

  document.getElementById("update-check").addEventListener("click", (event) =>
    act(event.currentTarget, () => check(true)));
  startButton.addEventListener("click", (event) =>
    run(event.currentTarget, { op: "update", version: newest },
      `Update ledhost to ${newest}? It restarts; the panel goes dark for a while.`));
  rollbackButton.addEventListener("click", (event) =>
    run(event.currentTarget, { op: "rollback" },
      "Go back to the previous version of ledhost? It restarts."));
  check(false).catch((error) => facts([["Update check", error.message]]));
});

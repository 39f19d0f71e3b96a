// The dashboard: what is showing and why, quick actions, and the live preview.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { api, act, notice, el } = ledhost;
  const $ = (id) => document.getElementById(id);
  let status = null;

  const REASONS = {
    rotation: "its turn in the rotation",
    pin: "pinned",
    interrupt: "an interrupt",
    notification: "a notification",
    schedule: "the schedule",
  };

  function describeWhy(display) {
    const current = display.current;
    if (!display.on) return display.powered ? "off by the schedule" : "turned off";
    if (!current) return "nothing to show";
    let why = REASONS[current.reason] || current.reason;
    if (display.pin && display.pin.remaining != null) {
      why += ` (${Math.ceil(display.pin.remaining / 60)} min left)`;
    } else if (current.ends_in != null) {
      why += ` (${Math.ceil(current.ends_in)} s left)`;
    }
    return why;
  }

  function render(data) {
    status = data;
    const display = data.display;
    $("showing").textContent = display.showing || "nothing";
    $("why").textContent = describeWhy(display);
    $("next-up").textContent = (display.rotation && display.rotation.next) || "–";
    $("schedule").textContent = display.schedule || "–";
    const power = $("btn-power");
    power.setAttribute("aria-pressed", String(display.powered));
    power.textContent = display.powered ? "Panel on" : "Panel off";
    const slider = $("brightness");
    if (document.activeElement !== slider) slider.value = display.brightness;
    $("brightness-value").textContent = `${display.brightness} %`;
    const select = $("pin-mode");
    const chosen = select.value || (display.pin && display.pin.key) || display.showing;
    const keys = [];
    for (const [instance, entry] of Object.entries(data.plugins)) {
      for (const mode of entry.modes || []) keys.push(`${instance}:${mode}`);
    }
    if (select.dataset.keys !== keys.join(",")) {
      select.replaceChildren(...keys.map((key) => el("option", { value: key, text: key })));
      select.dataset.keys = keys.join(",");
    }
    if (chosen && keys.includes(chosen)) select.value = chosen;
  }

  async function refresh() {
    try {
      render((await api("GET", "/api/v1/status")).data);
    } catch (error) {
      $("showing").textContent = "–";
      $("why").textContent = error.message;
    }
  }

  $("btn-next").addEventListener("click", (e) =>
    act(e.currentTarget, () => api("POST", "/api/v1/next")).then(refresh));
  $("btn-previous").addEventListener("click", (e) =>
    act(e.currentTarget, () => api("POST", "/api/v1/previous")).then(refresh));
  $("btn-power").addEventListener("click", (e) => {
    const on = !(status && status.display.powered);
    act(e.currentTarget, () => api("PUT", "/api/v1/power", { on }),
        on ? "Panel on" : "Panel off").then(refresh);
  });
  $("pin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const [instance, mode] = $("pin-mode").value.split(":");
    const minutes = parseInt($("pin-for").value, 10);
    const body = { instance, mode, seconds: Number.isFinite(minutes) ? minutes * 60 : null };
    act(event.submitter, () => api("POST", "/api/v1/pin", body), `Pinned ${instance}:${mode}`)
      .then(refresh);
  });
  $("btn-unpin").addEventListener("click", (e) =>
    act(e.currentTarget, () => api("DELETE", "/api/v1/pin"), "Unpinned").then(refresh));

  let brightnessTimer = null;
  $("brightness").addEventListener("input", (event) => {
    const value = parseInt(event.target.value, 10);
    $("brightness-value").textContent = `${value} %`;
    clearTimeout(brightnessTimer);
    brightnessTimer = setTimeout(() =>
      api("PUT", "/api/v1/brightness", { value }).catch((error) => notice(error.message, "error")),
    150);
  });

  $("message-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const body = {
      text: $("message-text").value,
      color: $("message-color").value,
      duration: parseInt($("message-seconds").value, 10) || 10,
    };
    act(event.submitter, () => api("POST", "/api/v1/notify", body), "Message sent").then(refresh);
  });

  refresh();
  // What is showing changes on its own (the rotation); the event stream says when, and a
  // slow poll covers a stream that cannot connect.
  setInterval(refresh, 5000);
  if (window.ledhostPreview) {
    window.ledhostPreview.start($("preview"), $("preview-state"), { onState: refresh });
  }
});

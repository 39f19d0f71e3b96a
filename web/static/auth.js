// The login and first-run setup forms.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const show = (id, message) => {
    const box = document.getElementById(id);
    box.textContent = message;
    box.hidden = !message;
  };

  const login = document.getElementById("login");
  if (login) {
    login.addEventListener("submit", async (event) => {
      event.preventDefault();
      show("login-error", "");
      try {
        await ledhost.api("POST", "/api/v1/auth/login", { password: login.password.value });
        location.assign(login.dataset.next || "/");
      } catch (error) {
        show("login-error", error.message);
        login.password.select();
      }
    });
  }

  const setup = document.getElementById("setup");
  if (setup) {
    setup.addEventListener("submit", async (event) => {
      event.preventDefault();
      show("setup-error", "");
      if (setup.password.value !== setup.confirm.value) {
        show("setup-error", "The two passwords differ.");
        setup.confirm.focus();
        return;
      }
      const body = { password: setup.password.value };
      if (setup.code.value) body.setup_code = setup.code.value.trim();
      try {
        await ledhost.api("POST", "/api/v1/auth/setup", body);
        location.assign("/");
      } catch (error) {
        show("setup-error", error.message);
      }
    });
  }
});

// Operator sign-in: trade the admin token once for the codec endpoint's session cookie.
"use strict";

import { call, showMessage } from "/pages/static/api.js";

const message = document.getElementById("message");
const token = document.getElementById("token");
document.getElementById("codec").textContent = `${location.origin}/codec`;

document.getElementById("sign-in").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await call("POST", "/operator/session", token.value.trim());
    token.value = "";
    showMessage(message, "ok", "Signed in: the Temporal UI in this browser can now decode payloads.");
  } catch (error) {
    showMessage(message, "error", error.message, error.problem);
  }
});

document.getElementById("sign-out").addEventListener("click", async () => {
  await fetch("/operator/session", { method: "DELETE" });
  showMessage(message, "ok", "Signed out.");
});

// Client demo: on opening the app, the claim pop-up shows the vouchers this user may claim now.
"use strict";

import { call, describeValue, el, rememberedToken, showMessage } from "/pages/static/api.js";

const token = rememberedToken("iot-billing-user-token", document.getElementById("token"));
const message = document.getElementById("message");
const popup = document.getElementById("popup");

async function claim(offer, button) {
  button.disabled = true;
  try {
    // One key per click: a retried request (a flaky network) cannot claim twice.
    const key = crypto.randomUUID();
    await call("POST", `/v1/vouchers/${offer.voucher_id}/claims`, token(), undefined, { "Idempotency-Key": key });
    showMessage(message, "ok", `Claimed: ${offer.name}`);
    button.closest(".offer").remove();
    if (!document.querySelector("#offers .offer")) popup.hidden = true;
    await loadClaims();
  } catch (error) {
    button.disabled = false;
    showMessage(message, "error", error.message, error.problem);
  }
}

function offerCard(offer) {
  const button = el("button", { type: "button", class: "primary", "data-action": "claim" }, "Claim");
  button.addEventListener("click", () => claim(offer, button));
  return el("div", { class: "offer", "data-voucher": offer.voucher_id },
    el("strong", {}, offer.name), el("div", {}, describeValue(offer)),
    el("div", {}, `Claim before ${new Date(offer.claim_ends_at).toLocaleString()} · ${offer.stock_left} left`),
    button);
}

async function loadClaims() {
  const data = await call("GET", "/v1/me/voucher-claims", token());
  document.getElementById("claims").replaceChildren(...data.items.map((c) =>
    el("tr", { "data-claim": c.id },
      el("td", {}, c.voucher_name), el("td", {}, describeValue(c)),
      el("td", { class: "status" }, c.status), el("td", {}, new Date(c.use_ends_at).toLocaleString()))));
}

async function openApp() {
  try {
    const data = await call("GET", "/v1/me/voucher-offers", token());
    document.getElementById("offers").replaceChildren(...data.offers.map(offerCard));
    popup.hidden = data.offers.length === 0;
    showMessage(message, "ok", data.offers.length ? `${data.offers.length} voucher(s) for you` : "No vouchers for you right now");
    await loadClaims();
  } catch (error) {
    showMessage(message, "error", error.message, error.problem);
  }
}

document.getElementById("open").addEventListener("click", openApp);
document.getElementById("close").addEventListener("click", () => { popup.hidden = true; });
if (token()) openApp();

// Operator console: list, create, edit, enable and terminate vouchers; the funnel pushed -> claimed -> redeemed.
"use strict";

import { call, describeValue, el, rememberedToken, showMessage } from "/pages/static/api.js";

const token = rememberedToken("iot-billing-admin-token", document.getElementById("token"));
const message = document.getElementById("message");
const form = document.getElementById("form");
const DATES = ["valid_from", "valid_until", "claim_starts_at", "claim_ends_at", "use_starts_at", "use_ends_at"];
const NUMBERS = ["value", "stock", "per_user_limit", "duration_periods"];
const LISTS = ["product_ids", "audience"];
let editing = null;

function local(iso) {
  const date = new Date(iso);
  return new Date(date.getTime() - date.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

function formBody() {
  const body = {};
  for (const [name, raw] of new FormData(form).entries()) {
    const value = String(raw).trim();
    if (value === "") continue;
    if (DATES.includes(name)) body[name] = new Date(value).toISOString();
    else if (NUMBERS.includes(name)) body[name] = Number(value);
    else if (LISTS.includes(name)) body[name] = value.split(",").map((item) => item.trim()).filter(Boolean);
    else body[name] = value;
  }
  return body;
}

function changedFields(body) {
  // PATCH sends only what differs from the voucher being edited.
  const changes = {};
  const same = (name, value) =>
    DATES.includes(name) ? local(value) === local(editing[name]) : JSON.stringify(value) === JSON.stringify(editing[name]);
  for (const [name, value] of Object.entries(body)) {
    if (!same(name, value)) changes[name] = value;
  }
  return changes;
}

function startEdit(voucher) {
  editing = voucher;
  form.reset();
  for (const element of form.elements) {
    if (!element.name || voucher[element.name] === undefined || voucher[element.name] === null) continue;
    const value = voucher[element.name];
    element.value = DATES.includes(element.name) ? local(value) : Array.isArray(value) ? value.join(", ") : value;
  }
  document.getElementById("form-title").textContent = `Edit ${voucher.name} (${voucher.status})`;
  document.getElementById("save").textContent = "Save changes";
  document.getElementById("cancel-edit").hidden = false;
}

function stopEdit() {
  editing = null;
  form.reset();
  document.getElementById("form-title").textContent = "New voucher";
  document.getElementById("save").textContent = "Create voucher";
  document.getElementById("cancel-edit").hidden = true;
}

function showFunnel(voucher) {
  const { pushed, claimed, redeemed, claim_rate, redemption_rate } = voucher.funnel;
  const top = Math.max(pushed, claimed, redeemed, 1);
  const bar = (label, count) =>
    el("div", { style: `height:${Math.max(12, (120 * count) / top)}px`, "data-stage": label }, `${label} ${count}`);
  document.getElementById("funnel-name").textContent = voucher.name;
  document.getElementById("funnel").replaceChildren(bar("pushed", pushed), bar("claimed", claimed), bar("redeemed", redeemed));
  const percent = (rate) => (rate === null ? "—" : `${(rate * 100).toFixed(1)}%`);
  document.getElementById("funnel-rates").textContent =
    `claimed / pushed ${percent(claim_rate)} · redeemed / claimed ${percent(redemption_rate)}`;
  document.getElementById("funnel-section").hidden = false;
}

async function act(label, work) {
  try {
    await work();
    showMessage(message, "ok", label);
    await load();
  } catch (error) {
    showMessage(message, "error", error.message, error.problem);
  }
}

function row(voucher) {
  const actions = el("td");
  const button = (text, onclick) => actions.append(el("button", { type: "button", "data-action": text, onclick }, text));
  button("funnel", () => showFunnel(voucher));
  if (voucher.status !== "terminated") button("edit", () => startEdit(voucher));
  if (voucher.status === "draft") {
    button("enable", () => act(`${voucher.name} enabled`, () => call("POST", `/v1/vouchers/${voucher.id}/enable`, token())));
  }
  if (voucher.status !== "terminated") {
    button("terminate", () =>
      act(`${voucher.name} terminated`, () =>
        call("POST", `/v1/vouchers/${voucher.id}/terminate`, token(), { reason: "terminated from the console" })));
  }
  const window = `${new Date(voucher.claim_starts_at).toLocaleString()} → ${new Date(voucher.claim_ends_at).toLocaleString()}`;
  return el("tr", { "data-voucher": voucher.id, "data-name": voucher.name },
    el("td", {}, voucher.name), el("td", {}, describeValue(voucher)),
    el("td", { class: "status" }, voucher.status), el("td", {}, window),
    el("td", {}, `${voucher.funnel.stock_left} of ${voucher.stock} left`),
    el("td", {}, voucher.pushed_count), el("td", {}, voucher.claimed_count), el("td", {}, voucher.redeemed_count),
    actions);
}

async function load() {
  const data = await call("GET", "/v1/vouchers", token());
  document.getElementById("vouchers").replaceChildren(...data.items.map(row));
}

document.getElementById("load").addEventListener("click", () => act("vouchers loaded", async () => {}));
document.getElementById("cancel-edit").addEventListener("click", stopEdit);
form.addEventListener("submit", (event) => {
  event.preventDefault();
  const body = formBody();
  if (editing) {
    const voucher = editing;
    act(`${voucher.name} saved`, async () => {
      await call("PATCH", `/v1/vouchers/${voucher.id}`, token(), changedFields(body));
      stopEdit();
    });
  } else {
    act(`${body.name} created`, async () => {
      await call("POST", "/v1/vouchers", token(), body);
      form.reset();
    });
  }
});
if (token()) load().catch((error) => showMessage(message, "error", error.message, error.problem));

// Shared by the voucher pages: calls the API with the visitor's bearer token and renders problem+json.
"use strict";

export async function call(method, path, token, body, headers = {}) {
  const init = { method, headers: { Authorization: `Bearer ${token}`, ...headers } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const data = response.status === 204 ? null : await response.json();
  if (!response.ok) {
    throw Object.assign(new Error(data && data.detail ? data.detail : response.statusText), { problem: data });
  }
  return data;
}

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child));
  return node;
}

export function showMessage(box, kind, text, problem) {
  box.replaceChildren(text);
  box.className = `message ${kind}`;
  box.hidden = false;
  if (problem && Array.isArray(problem.errors)) {
    const list = el("ul");
    for (const error of problem.errors) list.append(el("li", { "data-code": error.code }, `${error.field}: ${error.code} — ${error.message}`));
    box.append(list);
  } else if (problem && problem.code) {
    box.append(el("span", { "data-code": problem.code }, ` (${problem.code})`));
  }
}

export function rememberedToken(key, input) {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  input.value = fromHash || sessionStorage.getItem(key) || "";
  input.addEventListener("change", () => sessionStorage.setItem(key, input.value.trim()));
  return () => input.value.trim();
}

export function describeValue(voucher) {
  if (voucher.type === "percent_off") return `${voucher.value}% off`;
  if (voucher.type === "amount_off") return `${(voucher.value / 100).toFixed(2)} ${voucher.currency} off`;
  return `${voucher.value} free period${voucher.value === 1 ? "" : "s"}`;
}

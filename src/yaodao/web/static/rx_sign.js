// Prescribing on the doctor's device: the Ed25519 private key is made in this browser and kept in its
// IndexedDB as a non-extractable key; only the public half is registered with the platform. A
// prescription is signed over the same canonical form the platform verifies (yaodao.care.prescribing):
// JSON with sorted keys, no whitespace, UTF-8, times in UTC to the second.
(function () {
  "use strict";
  const form = document.getElementById("rx-form");
  const keyButton = document.getElementById("rx-key");
  const state = document.getElementById("rx-state");
  const csrf = window.YAODAO_CSRF || "";
  const DB = "yaodao-signing", STORE = "keys", SLOT = "prescribing";

  function say(text) { if (state) state.textContent = text; }

  function open() {
    return new Promise(function (resolve, reject) {
      const request = indexedDB.open(DB, 1);
      request.onupgradeneeded = function () { request.result.createObjectStore(STORE); };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }
  async function load() {
    const db = await open();
    return new Promise(function (resolve, reject) {
      const get = db.transaction(STORE).objectStore(STORE).get(SLOT);
      get.onsuccess = function () { resolve(get.result || null); };
      get.onerror = function () { reject(get.error); };
    });
  }
  async function save(pair) {
    const db = await open();
    return new Promise(function (resolve, reject) {
      const tx = db.transaction(STORE, "readwrite");
      tx.objectStore(STORE).put(pair, SLOT);
      tx.oncomplete = function () { resolve(); };
      tx.onerror = function () { reject(tx.error); };
    });
  }
  function base64(bytes) { return btoa(String.fromCharCode.apply(null, new Uint8Array(bytes))); }

  function canonical(value) {
    if (Array.isArray(value)) return "[" + value.map(canonical).join(",") + "]";
    if (value !== null && typeof value === "object") {
      return "{" + Object.keys(value).sort().map(function (k) { return JSON.stringify(k) + ":" + canonical(value[k]); }).join(",") + "}";
    }
    return JSON.stringify(value);
  }

  async function post(url, body) {
    const answer = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify(body),
    });
    const data = await answer.json().catch(function () { return {}; });
    if (!answer.ok) throw new Error(data.detail || ("HTTP " + answer.status));
    return data;
  }

  async function createKey() {
    const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
    const raw = await crypto.subtle.exportKey("raw", pair.publicKey);
    await post("/api/doctors/me/keys", { public_key: base64(raw) });
    await save(pair);
    return pair;
  }

  if (keyButton) {
    load().then(function (pair) { if (pair) keyButton.textContent = "本设备已有签名密钥 This device has a signing key"; });
    keyButton.addEventListener("click", async function () {
      try { await createKey(); keyButton.textContent = "本设备已有签名密钥 This device has a signing key"; say("密钥已登记 key registered"); }
      catch (error) { say("无法创建密钥 could not create a key: " + error.message); }
    });
  }

  if (form) {
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      try {
        const pair = await load();
        if (!pair) { say("请先在本设备创建签名密钥 create a signing key on this device first"); return; }
        const f = new FormData(form);
        const d = form.dataset;
        const item = {
          drug: String(f.get("drug")).trim().toLowerCase(), product_id: String(f.get("product_id") || "").trim() || null,
          dosage_form: null, quantity_packs: parseInt(f.get("quantity_packs"), 10), dose_text: String(f.get("dose_text")).trim(),
          days_supply: parseInt(f.get("days_supply"), 10),
        };
        const signed = {
          // The consultation is named beside the signed form, not inside it: the platform verifies
          // prescriptions at checkout from what the prescription itself records.
          form: "yaodao-rx-1", id: d.rxId, patient_id: d.patient, doctor_id: d.doctor, consultation_id: null,
          issued_at: d.issuedAt, valid_until: d.validUntil, fills_allowed: 1, emergency: false, first_visit: false,
          long_term_weeks: null, long_supply_reason: null, items: [item],
        };
        const bytes = new TextEncoder().encode(canonical(signed));
        const signature = await crypto.subtle.sign({ name: "Ed25519" }, pair.privateKey, bytes);
        const body = Object.assign({}, signed, { signature: base64(signature), consultation_id: d.consultation });
        delete body.form;
        const rx = await post("/api/prescriptions", body);
        say("处方已开具 prescription issued: " + rx.id);
        form.dataset.issued = rx.id;
        setTimeout(function () { location.reload(); }, 600);
      } catch (error) { say("未能开具 not issued: " + error.message); }
    });
  }
})();

// The consultation chat: a WebSocket that says hello with the last seq it saw, renders each message once
// (by seq), and sends every message with its own client id until the server acknowledges it, across
// reconnects (a resend is answered with the stored message, never a second copy). An image goes up over
// HTTP (multipart, with the page's CSRF token), retried under the same client id until the server answers;
// it comes back to both sides as a message frame whose attachment is shown inline.
(function () {
  "use strict";
  const root = document.getElementById("consultation");
  const list = document.getElementById("messages");
  if (!root || !list) return;
  const id = root.dataset.id;
  const side = root.dataset.side;
  const form = document.getElementById("chat-form");
  const input = document.getElementById("chat-text");
  const picker = document.getElementById("chat-image");
  const IMAGE_MAX_BYTES = 2 * 1024 * 1024; // the server's limit; it checks again (type, size, dimensions)
  const state = document.getElementById("chat-state");
  const seen = new Set();
  const pending = new Map(); // client_msg_id -> text, until acknowledged
  let last = 0;
  let socket = null;
  let delay = 500;

  function show(text) { if (state) state.textContent = text; }

  function render(frame) {
    if (seen.has(frame.seq)) return;
    seen.add(frame.seq);
    last = Math.max(last, frame.seq);
    const item = document.createElement("li");
    item.className = "message " + (frame.sender === side ? "mine" : "theirs");
    item.dataset.seq = String(frame.seq);
    item.dataset.clientId = frame.client_msg_id;
    if (frame.attachment) {
      const a = frame.attachment;
      const img = document.createElement("img");
      img.src = a.url;
      img.width = a.width;
      img.height = a.height;
      img.alt = frame.text || "图片 image";
      img.loading = "lazy";
      img.className = "chat-image"; // max-width: 100% (style.css), the attributes keep the layout steady
      item.appendChild(img);
      if (frame.text) {
        const caption = document.createElement("span");
        caption.textContent = frame.text;
        item.appendChild(caption);
      }
    } else {
      item.textContent = frame.text;
    }
    const local = list.querySelector('[data-pending="' + CSS.escape(frame.client_msg_id) + '"]');
    if (local) local.replaceWith(item); else list.appendChild(item);
    item.scrollIntoView({ block: "end" });
  }

  function sendPending() {
    for (const [clientId, text] of pending) {
      socket.send(JSON.stringify({ type: "message", client_msg_id: clientId, text: text }));
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/ws/consultations/" + encodeURIComponent(id));
    socket.addEventListener("open", function () {
      socket.send(JSON.stringify({ type: "hello", after: last }));
    });
    socket.addEventListener("message", function (event) {
      const frame = JSON.parse(event.data);
      if (frame.type === "message") render(frame);
      else if (frame.type === "ready") { delay = 500; show("已连接 connected"); sendPending(); }
      else if (frame.type === "ack") {
        pending.delete(frame.client_msg_id);
        const local = list.querySelector('[data-pending="' + CSS.escape(frame.client_msg_id) + '"]');
        if (local) local.classList.add("acked");
      } else if (frame.type === "error") show("未发送 not sent: " + frame.detail);
      else if (frame.type === "closed") { show("问诊已结束 the consultation has ended"); setTimeout(function () { location.reload(); }, 800); }
    });
    socket.addEventListener("close", function (event) {
      if (event.code === 1000 || event.code >= 4400) return;
      show("重新连接中… reconnecting…");
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 8000);
    });
  }

  function newClientId() {
    return crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random();
  }

  function uploadImage(file, caption, clientId, attempt) {
    const body = new FormData();
    body.append("file", file);
    body.append("client_msg_id", clientId);
    if (caption) body.append("text", caption);
    fetch("/api/consultations/" + encodeURIComponent(id) + "/attachments", {
      method: "POST", body: body, credentials: "same-origin", headers: { "X-CSRF-Token": window.YAODAO_CSRF || "" },
    }).then(function (response) {
      if (response.ok) {
        return response.json().then(function (m) { render(Object.assign({ sender: m.sender_role }, m)); });
      }
      return response.json().then(function (problem) {
        const local = list.querySelector('[data-pending="' + CSS.escape(clientId) + '"]');
        if (local) local.remove();
        show("图片未发送 image not sent: " + (problem.detail || response.status));
      });
    }).catch(function () { // no answer: the same client id again, so a stored image is never doubled
      if (attempt < 5) setTimeout(function () { uploadImage(file, caption, clientId, attempt + 1); }, 1000 * (attempt + 1));
      else show("图片未发送 image not sent: network");
    });
  }

  if (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      const text = input.value.trim();
      const file = picker && picker.files && picker.files[0];
      if (file) {
        if (file.size > IMAGE_MAX_BYTES) { show("图片不能超过 2 MB · images are at most 2 MB"); return; }
        const imageId = newClientId();
        const item = document.createElement("li");
        item.className = "message mine pending";
        item.dataset.pending = imageId;
        item.textContent = "图片上传中… uploading image…";
        list.appendChild(item);
        input.value = "";
        picker.value = "";
        uploadImage(file, text, imageId, 0);
        return;
      }
      if (!text) return;
      const clientId = newClientId();
      pending.set(clientId, text);
      const item = document.createElement("li");
      item.className = "message mine pending";
      item.dataset.pending = clientId;
      item.textContent = text;
      list.appendChild(item);
      input.value = "";
      if (socket && socket.readyState === WebSocket.OPEN) {
        socket.send(JSON.stringify({ type: "message", client_msg_id: clientId, text: text }));
      }
    });
  }
  connect();
})();

// Talon's dashboard: small enhancements over server-rendered pages. Every page works without this
// script except the playground's streaming and the live task list's refresh.
"use strict";

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

// Copy buttons: <button data-copy="element-id">.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  try {
    await navigator.clipboard.writeText(source.textContent.trim());
    button.textContent = "Copied";
  } catch {
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    button.textContent = "Selected: press Ctrl+C";
  }
});

// Forms that do something hard to undo ask first: <form data-confirm="Delete this webhook?">.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) event.preventDefault();
});

// Live regions: <div id="x" data-live="2000"> is replaced by the same element of a fresh copy of the
// page every 2 s while the tab is visible.
for (const region of document.querySelectorAll("[data-live]")) {
  const every = Math.max(1000, Number(region.dataset.live) || 2000);
  const refresh = async () => {
    if (document.visibilityState === "visible") {
      try {
        const response = await fetch(window.location.href, { headers: { Accept: "text/html" }, credentials: "same-origin" });
        if (response.ok) {
          const fresh = new DOMParser().parseFromString(await response.text(), "text/html").getElementById(region.id);
          if (fresh) region.innerHTML = fresh.innerHTML;
        }
      } catch { /* the next tick tries again */ }
    }
    setTimeout(refresh, every);
  };
  setTimeout(refresh, every);
}

// The playground: the answer streams in as the server sends it (server-sent events over a POST).
const playground = document.getElementById("playground");
if (playground) {
  const log = document.getElementById("chat-log");
  const input = playground.querySelector("textarea[name=message]");
  const send = playground.querySelector("button[type=submit]");
  const status = document.getElementById("chat-status");
  const history = [];

  const bubble = (role, text) => {
    const div = document.createElement("div");
    div.className = "msg " + role;
    div.setAttribute("data-role", role);
    const body = document.createElement("span");
    body.className = "text";
    body.textContent = text;
    div.appendChild(body);
    log.appendChild(div);
    log.scrollTop = log.scrollHeight;
    return div;
  };

  playground.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    const agent = playground.querySelector("[name=agent]").value;
    const version = playground.querySelector("[name=version]").value.trim();
    history.push({ role: "user", content: text });
    bubble("user", text);
    input.value = "";
    send.disabled = true;
    status.textContent = "Waiting for the first token…";
    const answer = bubble("assistant", "");
    const answerText = answer.querySelector(".text");
    const started = performance.now();
    let content = "";
    try {
      const response = await fetch("/playground/stream", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken(), Accept: "text/event-stream" },
        body: JSON.stringify({ agent, version: version ? Number(version) : null, messages: history }),
      });
      if (!response.ok || !response.body) throw new Error(await response.text() || response.statusText);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const frame = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const data = frame.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("\n");
          if (!data) continue;
          const message = JSON.parse(data);
          if (message.delta) {
            content += message.delta;
            answerText.textContent = content;
            status.textContent = "Streaming…";
            log.scrollTop = log.scrollHeight;
          } else if (message.error) {
            throw new Error(message.error);
          } else if (message.done) {
            const meta = document.createElement("span");
            meta.className = "meta";
            const latency = message.latencyMs ?? Math.round(performance.now() - started);
            meta.textContent = `${message.model} · version ${message.version} · ${latency} ms`;
            answer.appendChild(meta);
            answer.setAttribute("data-done", "true");
          }
        }
      }
      if (answer.getAttribute("data-done") !== "true") throw new Error("The answer was cut off");
      history.push({ role: "assistant", content });
      status.textContent = "Answered.";
    } catch (error) {
      answer.classList.add("error");
      answerText.textContent = "Error: " + error.message;
      history.pop();
      status.textContent = "The request failed.";
    } finally {
      send.disabled = false;
      input.focus();
    }
  });

  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) playground.requestSubmit();
  });
}

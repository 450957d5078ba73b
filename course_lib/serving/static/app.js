// The classifier page: upload, show the prediction, list the history, send feedback.
// Text that comes from users or the server is always inserted with textContent,
// never as HTML, so a file name or comment cannot inject markup.
"use strict";

const PER_PAGE = 10;
const $ = (id) => document.getElementById(id);
const state = { page: 1, pages: 1, file: null, previewUrl: null, photoUrls: [] };

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

const percent = (p) => `${(100 * p).toFixed(p >= 0.995 || p < 0.001 ? 0 : 1)}%`;

async function api(path, options = {}) {
  let response;
  try {
    response = await fetch(path, options);
  } catch (err) {
    throw new Error("the server cannot be reached; is it running?");
  }
  let body = null;
  try {
    body = await response.json();
  } catch (err) {
    body = null;
  }
  if (!response.ok) {
    throw new Error((body && body.error) || `the server answered ${response.status}`);
  }
  return body;
}

function setStatus(text, kind = "") {
  const status = $("status");
  status.textContent = text;
  status.className = `status ${kind}`;
}

// ------------------------------------------------------------ the token
// When the service has a token (COURSE_SERVE_TOKEN), the routes that hand out photos need it
// as "Authorization: Bearer <token>", which an <img src> cannot send. The page asks for the
// token (or takes it from the address's fragment, #token=..., which the browser never sends
// to any server), keeps it for this tab only (sessionStorage), and fetches each photo with
// the header into a blob: URL. Without a token it says so instead of showing empty frames.

const TOKEN_KEY = "course-serve-token";
const tokenRequired = () => document.body.dataset.tokenRequired === "1";

function getToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || "";
  } catch (err) {
    return "";  // storage disabled: the token lasts until the page is left
  }
}

function setToken(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch (err) {
    // storage disabled: nothing kept
  }
}

function takeTokenFromFragment() {
  const params = new URLSearchParams(window.location.hash.slice(1));
  const token = params.get("token");
  if (!token) return;
  setToken(token.trim());
  params.delete("token");
  const rest = params.toString();
  // out of the address bar (and so out of bookmarks and screenshots)
  history.replaceState(null, "", window.location.pathname + window.location.search +
    (rest ? `#${rest}` : ""));
}

const authHeaders = () => (getToken() ? { Authorization: `Bearer ${getToken()}` } : {});

function showTokenForm(message) {
  const form = $("token-form");
  form.hidden = !tokenRequired();
  if (form.hidden) return;
  const known = Boolean(getToken());
  $("token-message").textContent = message || (known
    ? "Photos are shown with the token entered in this tab."
    : "Photos in the history are protected by the service's token: enter it to see them.");
  $("token-message").className = `small${message ? " error" : ""}`;
  for (const id of ["token-input", "token-save"]) $(id).hidden = known && !message;
  $("token-forget").hidden = !known;
}

function setUpToken() {
  takeTokenFromFragment();
  showTokenForm();
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    setToken($("token-input").value.trim());
    $("token-input").value = "";
    showTokenForm();
    loadHistory();
  });
  $("token-forget").addEventListener("click", () => {
    setToken("");
    showTokenForm();
    loadHistory();
  });
  $("feedback-csv").addEventListener("click", async (event) => {
    if (!tokenRequired()) return;  // a plain link works
    event.preventDefault();
    try {
      const url = await fetchBlob("/feedback.csv");
      const link = Object.assign(document.createElement("a"), { href: url, download: "feedback.csv" });
      link.click();
    } catch (err) {
      showTokenForm(err.message);
    }
  });
}

async function fetchBlob(path) {
  let response;
  try {
    response = await fetch(path, { headers: authHeaders() });
  } catch (err) {
    throw new Error("the server cannot be reached; is it running?");
  }
  if (!response.ok) {
    const error = new Error(response.status === 401
      ? "The token was refused: enter the service's token (COURSE_SERVE_TOKEN)."
      : `the server answered ${response.status}`);
    error.status = response.status;
    throw error;
  }
  const url = URL.createObjectURL(await response.blob());
  state.photoUrls.push(url);  // revoked when the history is drawn again
  return url;
}

function lockedThumb(text) {
  const node = el("div", "thumb locked", text);
  node.setAttribute("role", "img");
  node.setAttribute("aria-label", text);
  return node;
}

function photoThumb(item) {
  if (!item.image_url) return lockedThumb("no photo");
  if (tokenRequired() && !getToken()) return lockedThumb("token needed");
  const thumb = el("img", "thumb");
  thumb.alt = `photo of prediction #${item.id}`;
  fetchBlob(item.image_url)
    .then((url) => { thumb.src = url; })
    .catch((err) => {
      thumb.replaceWith(lockedThumb(err.status === 401 ? "token refused" : "photo unavailable"));
      if (err.status === 401) showTokenForm(err.message);
    });
  return thumb;
}

// ------------------------------------------------------------ the model

async function loadModel() {
  for (let attempt = 0; attempt < 120; attempt += 1) {
    try {
      const model = await api("/model");
      $("model-info").textContent = `${model.name} · version ${model.version} · ` +
        `${model.runtime} · ${model.class_names.length} classes`;
      const list = $("class-names");
      list.replaceChildren(...model.class_names.map((name) => {
        const option = document.createElement("option");
        option.value = name;
        return option;
      }));
      return;
    } catch (err) {
      $("model-info").textContent = `Waiting for the model: ${err.message}`;
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }
}

// ------------------------------------------------------------ choosing a file

function chooseFile(file) {
  state.file = file || null;
  if (state.previewUrl) URL.revokeObjectURL(state.previewUrl);
  state.previewUrl = file ? URL.createObjectURL(file) : null;
  const preview = $("preview");
  preview.hidden = !file;
  if (file) preview.src = state.previewUrl;
  $("drop-text").hidden = Boolean(file);
  $("file-name").textContent = file ? `${file.name} · ${(file.size / 1024).toFixed(0)} kB` : "";
  $("predict-button").disabled = !file;
  setStatus("");
}

function setUpDropZone() {
  const zone = $("drop-zone");
  const input = $("file-input");
  input.addEventListener("change", () => chooseFile(input.files[0]));
  for (const name of ["dragenter", "dragover"]) {
    zone.addEventListener(name, (event) => {
      event.preventDefault();
      zone.classList.add("dragging");
    });
  }
  for (const name of ["dragleave", "drop"]) {
    zone.addEventListener(name, () => zone.classList.remove("dragging"));
  }
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    const file = event.dataTransfer.files[0];
    if (file) {
      input.files = event.dataTransfer.files;
      chooseFile(file);
    }
  });
}

// ------------------------------------------------------------ predicting

async function predict(event) {
  event.preventDefault();
  if (!state.file) return;
  const button = $("predict-button");
  button.disabled = true;
  setStatus("Classifying…");
  const form = new FormData();
  form.append("file", state.file, state.file.name);
  try {
    const prediction = await api("/predict", { method: "POST", body: form });
    showResult(prediction);
    setStatus("");
    state.page = 1;
    await loadHistory();
  } catch (err) {
    setStatus(err.message, "error");
  } finally {
    button.disabled = !state.file;
  }
}

function topKBars(topK) {
  const list = el("ol", "bars");
  for (const entry of topK) {
    const item = el("li");
    const head = el("div", "bar-head");
    head.append(el("span", "bar-label", entry.label), el("span", "bar-value", percent(entry.confidence)));
    const track = el("div", "bar-track");
    const fill = el("div", "bar-fill");
    fill.style.width = `${Math.max(0.5, 100 * entry.confidence)}%`;
    track.append(fill);
    item.append(head, track);
    list.append(item);
  }
  return list;
}

function showResult(prediction) {
  $("result").hidden = false;
  $("result-image").src = state.previewUrl || prediction.image_url;
  $("result-label").textContent = prediction.label;
  $("result-meta").textContent =
    `${percent(prediction.confidence)} confident · ${prediction.latency_ms.toFixed(1)} ms · ` +
    `${prediction.model.name} ${prediction.model.version} (${prediction.model.runtime})`;
  $("result-top-k").replaceWith(Object.assign(topKBars(prediction.top_k), { id: "result-top-k" }));
  const holder = $("result-feedback");
  holder.replaceChildren(feedbackControl(prediction));
  if (window.matchMedia("(max-width: 640px)").matches) {
    $("result").scrollIntoView({ behavior: "smooth", block: "start" });  // on a phone the result is below the fold
  }
}

// ------------------------------------------------------------ feedback

function describeFeedback(feedback) {
  if (!feedback) return "";
  let text = feedback.correct ? "✓ Marked right" : "✗ Marked wrong";
  if (!feedback.correct && feedback.correct_label) text += `; correct label: ${feedback.correct_label}`;
  if (feedback.comment) text += ` — “${feedback.comment}”`;
  return text;
}

function feedbackControl(prediction) {
  const node = $("feedback-template").content.firstElementChild.cloneNode(true);
  node.dataset.predictionId = String(prediction.id);
  const ask = node.querySelector(".feedback-ask");
  const correction = node.querySelector(".correction");
  const stateLine = node.querySelector(".feedback-state");
  stateLine.textContent = describeFeedback(prediction.feedback);

  async function send(body) {
    stateLine.textContent = "Sending…";
    stateLine.classList.remove("error");
    try {
      const updated = await api(`/feedback/${prediction.id}`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      stateLine.textContent = `${describeFeedback(updated.feedback)}. Thank you!`;
      correction.hidden = true;
      syncHistoryRow(updated);
    } catch (err) {
      stateLine.textContent = err.message;
      stateLine.classList.add("error");
    }
  }

  ask.querySelector(".yes").addEventListener("click", () => send({ correct: true }));
  ask.querySelector(".no").addEventListener("click", () => {
    correction.hidden = false;
    correction.querySelector(".correct-label").focus();
  });
  correction.addEventListener("submit", (event) => {
    event.preventDefault();
    send({
      correct: false,
      label: correction.querySelector(".correct-label").value,
      comment: correction.querySelector(".comment").value,
    });
  });
  return node;
}

function syncHistoryRow(updated) {
  const row = document.querySelector(`#history-list li[data-prediction-id="${updated.id}"]`);
  if (row) row.replaceWith(historyRow(updated));
}

// ------------------------------------------------------------ history

function historyRow(item) {
  const row = el("li", "history-row");
  row.dataset.predictionId = String(item.id);
  const thumb = photoThumb(item);
  const body = el("div", "history-body");
  const title = el("div", "history-title");
  title.append(el("strong", "history-label", item.label), el("span", "muted", ` ${percent(item.confidence)}`));
  const when = new Date(item.created_at);
  const meta = el("div", "muted small history-meta",
    `#${item.id} · ${item.filename} · ${when.toLocaleString()} · ${item.latency_ms.toFixed(1)} ms`);
  body.append(title, meta, feedbackControl(item));
  row.append(thumb, body);
  return row;
}

async function loadHistory() {
  try {
    const data = await api(`/history?page=${state.page}&per_page=${PER_PAGE}`);
    state.pages = data.pages;
    for (const url of state.photoUrls.splice(0)) URL.revokeObjectURL(url);
    $("history-list").replaceChildren(...data.items.map(historyRow));
    $("history-summary").textContent = data.total
      ? `${data.total} prediction${data.total === 1 ? "" : "s"}, latest first.`
      : "No predictions yet: classify an image to start the history.";
    $("page-info").textContent = `page ${data.page} of ${data.pages}`;
    $("prev-page").disabled = data.page <= 1;
    $("next-page").disabled = data.page >= data.pages;
  } catch (err) {
    $("history-summary").textContent = `History unavailable: ${err.message}`;
  }
}

function setUpPager() {
  $("prev-page").addEventListener("click", () => {
    state.page = Math.max(1, state.page - 1);
    loadHistory();
  });
  $("next-page").addEventListener("click", () => {
    state.page = Math.min(state.pages, state.page + 1);
    loadHistory();
  });
}

document.addEventListener("DOMContentLoaded", () => {
  setUpToken();
  setUpDropZone();
  setUpPager();
  $("upload-form").addEventListener("submit", predict);
  chooseFile($("file-input").files[0]);
  loadModel();
  loadHistory();
});

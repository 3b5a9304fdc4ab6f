// genlab explore: one page, no build step. Every number comes from the server's /api, which
// calls genlab's latent functions; this file only holds the current code and draws.
"use strict";

const $ = (id) => document.getElementById(id);
const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
  "#7f7f7f", "#bcbd22", "#17becf"];
const S = { runs: [], run: null, z: null, label: null, pick: null, numbers: {}, image: null,
  decoding: false, again: false, nth: 0, seed: 0, perturb: null, interp: null, map: null,
  mask: null };

function status(text) { $("status").textContent = text || ""; }

async function api(path, body, progress) {
  const opts = body === undefined ? {} : { method: "POST", body: JSON.stringify(body),
    headers: { "content-type": "application/json" } };
  const res = await fetch("/api/" + path, opts);
  const data = await res.json();
  if (!res.ok) throw new Error(data.detail || res.statusText);
  return data.job ? poll(data.job.id, progress) : data;
}

async function poll(id, progress) {
  if (progress) { progress.hidden = false; progress.removeAttribute("value"); }
  for (;;) {
    const job = await api("jobs/" + id);
    if (progress && job.progress !== null) { progress.max = 1; progress.value = job.progress; }
    status(`${job.kind}: ${job.phase} ${job.progress === null ? "" :
      Math.round(100 * job.progress) + "%"}`);
    if (job.state === "done") { if (progress) progress.hidden = true; status(""); return job.result; }
    if (job.state === "error") { if (progress) progress.hidden = true; throw new Error(job.error); }
    await new Promise((r) => setTimeout(r, 150));
  }
}

function guard(fn) {
  return async (...args) => {
    try { await fn(...args); } catch (err) { status("error: " + err.message); }
  };
}

function options(select, items, values) {
  select.replaceChildren(...items.map((text, i) => {
    const o = document.createElement("option");
    o.textContent = text; o.value = values ? values[i] : text; return o;
  }));
}

function img(src, title) {
  const el = document.createElement("img");
  el.src = src; el.className = "pix"; if (title) el.title = title; return el;
}

// --- the run ------------------------------------------------------------------------------
async function loadRuns() {
  S.runs = (await api("runs")).runs;
  options($("run"), S.runs.map((r) => `${r.id}: ${r.name} (${r.model}, ${r.dataset})`),
    S.runs.map((r) => r.id));
  await selectRun(0);
}

async function selectRun(id) {
  S.run = await api("runs/" + id);
  const r = S.run, classes = r.classes;
  const metrics = r.evaluation ? Object.entries(r.evaluation).map(([k, v]) =>
    `${k} ${typeof v === "number" ? v.toPrecision(4) : v}`).join(", ") : "no evaluation.json";
  $("runinfo").textContent = `${r.model} · ${r.dataset} · ${r.latent_dim}-D latent · ` +
    `${r.parameters.toLocaleString()} parameters · epoch ${r.epoch ?? "-"} · ${metrics}`;
  for (const id of ["pick-class", "perturb-target", "blend-a", "blend-b", "label"])
    options($(id), classes, classes.map((_, i) => String(i)));
  $("blend-b").value = classes.length > 1 ? "1" : "0";
  options($("split"), r.splits);
  $("split").value = r.splits.includes("test") ? "test" : r.splits[0];
  $("label-row").hidden = !r.conditional;
  $("refine-row").hidden = !r.refines; $("refine").value = "";
  buildSampling(r.sampling, r.sampling_choices);
  S.label = r.conditional ? 0 : null;
  buildSliders();
  S.mask = new Uint8Array(r.shape[1] * r.shape[2]).fill(1);
  drawMask();
  const [first, second] = r.examples[$("split").value];  // two images of different classes
  $("interp-a").value = String(first);
  $("interp-b").value = String(second ?? first);
  await pickImage({ split: $("split").value, index: first });
  if (r.has_encoder) await blend();
}

// The family's sampling options (a diffusion model's sampler, steps, eta, guidance; a flow's
// temperature): one field each, sent with every prior draw; none for other families.
function buildSampling(defaults, choices) {
  const row = $("sampling-row"); row.replaceChildren();
  row.hidden = Object.keys(defaults).length === 0;
  for (const [name, value] of Object.entries(defaults)) {
    const label = document.createElement("label"); label.append(name + " ");
    let input;
    if (choices[name]) {
      input = document.createElement("select"); options(input, choices[name]);
    } else {
      input = document.createElement("input"); input.type = "number"; input.step = "any";
    }
    input.id = "sampling-" + name; input.value = String(value); input.dataset.option = name;
    label.append(input); row.append(label);
  }
}

function sampling() {
  const inputs = [...$("sampling-row").querySelectorAll("[data-option]")];
  if (!inputs.length) return undefined;
  return Object.fromEntries(inputs.map((el) => [el.dataset.option,
    el.tagName === "SELECT" ? el.value : Number(el.value)]));
}

// --- the current code, its sliders and its image ---------------------------------------------
function coord(i) {
  const a = S.run.axes; let c = 0;
  for (let j = 0; j < S.z.length; j++) c += (S.z[j] - a.center[j]) * a.basis[i][j];
  return c / a.scale[i];
}

function buildSliders() {
  const a = S.run.axes;
  $("axes-source").textContent = a.source;
  $("sliders").replaceChildren(...a.labels.map((name, i) => {
    const row = document.createElement("div"); row.className = "slider";
    const label = document.createElement("label");
    const pct = a.variance_ratio ? ` (${(100 * a.variance_ratio[i]).toFixed(1)}%)` : "";
    label.textContent = name + pct;
    const input = document.createElement("input");
    Object.assign(input, { type: "range", min: -4, max: 4, step: 0.02, id: "slider-" + i });
    const out = document.createElement("span");
    input.addEventListener("input", () => moveAxis(i, Number(input.value)));
    row.append(label, input, out); return row;
  }));
}

function syncSliders() {
  S.run.axes.labels.forEach((_, i) => {
    const c = coord(i), input = $("slider-" + i);
    input.value = c; input.nextSibling.textContent = c.toFixed(2);
  });
}

function moveAxis(i, value) {
  const a = S.run.axes, step = (value - coord(i)) * a.scale[i];
  for (let j = 0; j < S.z.length; j++) S.z[j] += step * a.basis[i][j];
  $("slider-" + i).nextSibling.textContent = value.toFixed(2);
  S.numbers = { source: "sliders", from: S.numbers.from || S.numbers };
  decodeNow();
}

async function decodeNow() {
  if (S.decoding) { S.again = true; return; }
  S.decoding = true;
  try {
    do {
      S.again = false;
      const out = await api(`runs/${S.run.id}/decode`, { z: S.z, label: S.label });
      show(out.image);
    } while (S.again);
  } catch (err) { status("error: " + err.message); }
  S.decoding = false;
}

function show(src, caption) {
  S.shown = (S.shown ?? 0) + 1;  // how many images were shown: a slow answer checks it
  S.image = src; $("current").src = src; $("download-png").href = src;
  if (caption !== undefined) $("caption").textContent = caption;
}

function setCode(out, caption) {
  S.z = out.z.slice(); S.numbers = out.numbers || {};
  if (S.run.conditional && out.label !== null && out.label !== undefined) {
    S.label = out.label; $("label").value = String(out.label);
  }
  show(out.image, caption); syncSliders();
}

async function pickImage(pick) {
  const out = await api(`runs/${S.run.id}/encode`, pick);
  S.pick = { split: pick.split || "test", index: out.numbers.selection.indices[0] };
  $("index").value = S.pick.index;
  setCode(out, out.caption);
}

function downloadJson() {
  const record = { run: { id: S.run.id, name: S.run.name, model: S.run.model,
    dataset: S.run.dataset }, z: S.z, label: S.label, picked: S.pick, numbers: S.numbers };
  const blob = new Blob([JSON.stringify(record, null, 2)], { type: "application/json" });
  $("download-json").href = URL.createObjectURL(blob);
}

// --- strips: perturbation and interpolation -------------------------------------------------
function strip(el, urls, labels, slider, onPick) {
  el.replaceChildren(...urls.map((u, i) => img(u, labels ? labels[i] : "")));
  slider.max = urls.length - 1; slider.value = 0;
  const select = (k) => {
    [...el.children].forEach((c, i) => c.classList.toggle("on", i === k)); onPick(k);
  };
  slider.oninput = () => select(Number(slider.value));
  [...el.children].forEach((c, i) => c.addEventListener("click", () => {
    slider.value = i; select(i);
  }));
  select(0);
}

// The noise level t* at which a diffusion prior refines the moved codes, or null (off).
function refineLevel() {
  const t = $("refine").value.trim();
  return t === "" || $("refine-row").hidden ? null : Number(t);
}

async function perturb() {
  if (!S.pick) throw new Error("pick a dataset image first");
  const max = Number($("perturb-max").value), kind = $("perturb-kind").value;
  const top = kind === "noise" ? max : Math.min(max, 1);
  const values = Array.from({ length: 9 }, (_, i) => +(top * i / 8).toFixed(4));
  const out = await api(`runs/${S.run.id}/perturb`, { image: S.pick, kind, values,
    target: $("perturb-target").value, seed: S.seed++, refine: refineLevel() });
  const moved = out.rows.slice(-values.length).map((r) => r[0]);  // refined ones when asked
  strip($("perturb-strip"), moved, values.map((v) => `${kind === "noise" ? "σ" : "α"} = ${v}`),
    $("perturb-pos"), (k) => {
      $("perturb-value").textContent = `${kind === "noise" ? "σ" : "α"} = ${values[k]}`;
      show(moved[k], out.title); S.numbers = out.numbers;
    });
}

async function interpolate() {
  const split = $("split").value;
  const body = { a: { split, index: Number($("interp-a").value) },
    b: { split, index: Number($("interp-b").value) }, method: $("interp-method").value,
    steps: Number($("interp-steps").value), refine: refineLevel() };
  const out = await api(`runs/${S.run.id}/interpolate`, body, null);
  const row = out.rows[out.rows.length - 1];  // the refined path when asked
  strip($("interp-strip"), row, out.col_labels, $("interp-pos"), (k) => {
    show(row[k], `${out.col_labels[k]} · ${out.title}`); S.numbers = out.numbers;
  });
}

// --- blends --------------------------------------------------------------------------------
async function blend() {
  const dims = $("blend-flip-dims").value.split(",").map((t) => t.trim()).filter((t) => t)
    .map(Number);
  const w = Number($("blend-w").value);
  $("blend-w-value").textContent = w.toFixed(2);
  const asked = S.shown;  // an image shown while the blend computes (a prior draw) stays
  const out = await api(`runs/${S.run.id}/blend`, { a_class: $("blend-a").value,
    b_class: $("blend-b").value, n: 6, w, flip: $("blend-flip").checked ? [0] : [],
    flip_dims: dims, refine: refineLevel() });
  $("blend-grid").replaceChildren(...out.rows.map((row, i) => {
    const line = document.createElement("div"); line.className = "line";
    const name = document.createElement("span"); name.textContent = out.row_labels
      ? out.row_labels[i] : ["A", "A decoded", "B", "B decoded", "blend"][i];
    line.append(name, ...row.map((u) => img(u))); return line;
  }));
  if (S.shown !== asked) return;
  show(out.rows[out.rows.length - 1][0], out.title); S.numbers = out.numbers;
}

// --- the latent map ------------------------------------------------------------------------
async function computeMap() {
  S.map = await api(`runs/${S.run.id}/map`, { method: $("map-method").value,
    n: Number($("map-n").value), split: $("split").value }, $("map-progress"));
  drawMap();
}

function mapPoints() {
  const c = $("map-canvas"), m = S.map, xs = m.coords.map((p) => p[0]),
    ys = m.coords.map((p) => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const sx = (c.width - 20) / (x1 - x0 || 1), sy = (c.height - 20) / (y1 - y0 || 1);
  return m.coords.map((p) => [10 + (p[0] - x0) * sx, c.height - 10 - (p[1] - y0) * sy]);
}

function drawMap() {
  const c = $("map-canvas"), g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  S.map.points = mapPoints();
  S.map.points.forEach(([x, y], i) => {
    g.fillStyle = COLOURS[(S.map.labels[i] + 10) % 10];
    g.beginPath(); g.arc(x, y, 3, 0, 2 * Math.PI); g.fill();
  });
  g.fillStyle = "#333"; g.fillText(S.map.title, 8, 12);
}

function nearest(ev) {
  if (!S.map) return -1;
  const c = $("map-canvas"), r = c.getBoundingClientRect();
  const x = (ev.clientX - r.left) * c.width / r.width, y = (ev.clientY - r.top) * c.height / r.height;
  let best = -1, dist = 64;
  S.map.points.forEach(([px, py], i) => {
    const d = (px - x) ** 2 + (py - y) ** 2; if (d < dist) { dist = d; best = i; }
  });
  return best;
}

function hoverMap(ev) {
  const i = nearest(ev), tip = $("map-tip");
  if (i < 0) { tip.hidden = true; return; }
  tip.src = `/api/runs/${S.run.id}/image?split=${S.map.split}&index=${S.map.indices[i]}`;
  tip.style.left = ev.clientX + 12 + "px"; tip.style.top = ev.clientY + 12 + "px";
  tip.title = S.map.class_names[S.map.labels[i]] || ""; tip.hidden = false;
}

// --- completion ----------------------------------------------------------------------------
function drawMask() {
  const c = $("mask-canvas"), g = c.getContext("2d"), [, h, w] = S.run.shape;
  const cw = c.width / w, ch = c.height / h;
  for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) {
    g.fillStyle = S.mask[i * w + j] ? "#fff" : "#555"; g.fillRect(j * cw, i * ch, cw, ch);
  }
}

function paintMask(ev) {
  if (!(ev.buttons & 1)) return;
  const c = $("mask-canvas"), r = c.getBoundingClientRect(), [, h, w] = S.run.shape;
  const j = Math.floor((ev.clientX - r.left) / r.width * w), i = Math.floor((ev.clientY - r.top) / r.height * h);
  for (let di = -1; di <= 1; di++) for (let dj = -1; dj <= 1; dj++) {
    const y = i + di, x = j + dj;
    if (y >= 0 && y < h && x >= 0 && x < w) S.mask[y * w + x] = ev.shiftKey ? 1 : 0;
  }
  $("mask").value = "drawn"; drawMask();
}

async function complete() {
  if (!S.pick) throw new Error("pick a dataset image first");
  const mask = $("mask").value, body = { image: S.pick, mask,
    steps: Number($("complete-steps").value) };
  if (mask === "drawn") body.drawn = Array.from(S.mask);
  const out = await api(`runs/${S.run.id}/complete`, body, $("complete-progress"));
  $("complete-out").replaceChildren(...out.rows.map((r, i) => img(r[0], out.row_labels[i])));
  show(out.rows[2][0], out.title); S.numbers = out.numbers;
}

// --- wiring ----------------------------------------------------------------------------------
function wire() {
  $("run").addEventListener("change", guard(() => selectRun(Number($("run").value))));
  $("pick").addEventListener("click", guard(() => pickImage({ split: $("split").value,
    index: Number($("index").value) })));
  $("pick-by-class").addEventListener("click", guard(() => pickImage({ split: $("split").value,
    cls: $("pick-class").value, nth: S.nth++ })));
  $("prior").addEventListener("click", guard(async () => {
    const out = await api(`runs/${S.run.id}/prior`,
      { seed: S.seed++, label: S.label, sampling: sampling() });
    const how = out.numbers.sampling ? ", " + Object.entries(out.numbers.sampling)
      .map(([k, v]) => `${k} ${v}`).join(", ") : "";
    S.pick = null; setCode(out, `prior draw, seed ${out.numbers.seed}${how}`);
  }));
  $("centre").addEventListener("click", () => { S.z = S.run.axes.center.slice(); syncSliders();
    S.numbers = { source: "centre" }; decodeNow(); });
  $("label").addEventListener("change", () => { S.label = Number($("label").value); decodeNow(); });
  $("download-json").addEventListener("click", downloadJson);
  $("perturb").addEventListener("click", guard(perturb));
  $("interp").addEventListener("click", guard(interpolate));
  $("blend-w").addEventListener("change", guard(blend));
  for (const id of ["blend-a", "blend-b", "blend-flip", "blend-flip-dims"])
    $(id).addEventListener("change", guard(blend));
  $("map").addEventListener("click", guard(computeMap));
  $("map-canvas").addEventListener("mousemove", hoverMap);
  $("map-canvas").addEventListener("mouseleave", () => { $("map-tip").hidden = true; });
  $("map-canvas").addEventListener("click", guard(async (ev) => {
    const i = nearest(ev);
    if (i >= 0) await pickImage({ split: S.map.split, index: S.map.indices[i] });
  }));
  $("mask-canvas").addEventListener("mousemove", paintMask);
  $("mask-canvas").addEventListener("mousedown", paintMask);
  $("complete").addEventListener("click", guard(complete));
}

window.addEventListener("DOMContentLoaded", () => { wire(); guard(loadRuns)(); });

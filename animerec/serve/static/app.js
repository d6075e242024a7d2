// The fan page: search titles, rate them, get recommendations. Plain JS against the REST API.
// Every rating (a search pick or a card's thumbs/1–10) is stored for this browser's user via
// PUT /users/{id}/ratings/{anime_id}; the list always comes from GET /users/{id}/recommendations.
// A MyAnimeList export goes to POST /users/{id}/import; the titles it says you are watching,
// planning or dropped are kept here (localStorage) and left out of every list. The model, the
// slider, the filters and the adult toggle survive a reload; "Start over" asks, and can erase the server copy.
// The user's id and secret token (from POST /users, shown once) live in localStorage; every
// /users/... call sends the token as "Authorization: Bearer ...". The filters (type, years,
// season, genres, episodes) go with every list request as the API's query parameters; a 422
// names the filter that the API refused.
"use strict";

const LIKED = 10;
const DISLIKED = 1;
const K = 12;
const MAX_K = 100;
const MAX_UPLOAD = 8 * 1024 * 1024;
const SHOWN_PICKS = 24;
const USER_KEY = "animerec.user";
const PREFS_KEY = "animerec.prefs";
const EXCLUDED_KEY = "animerec.excluded";

const $ = (id) => document.getElementById(id);
let userId = null;
let token = null;
let searchSeq = 0;
let refreshSeq = 0;
let rated = new Map(); // anime_id -> rating, from the last refresh
let excluded = new Set(); // anime ids an imported list says to leave out
let view = null; // null: your list; {id, name}: "more like" one title

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

function status(msg, isError = false) {
  const s = $("status");
  s.textContent = msg || "";
  s.classList.toggle("error", isError);
}

async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (token !== null && path.startsWith("/users/")) opts.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const res = await fetch(path, opts);
  if (res.status === 204) return null;
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const err = new Error(data.message || `${res.status} ${res.statusText}`);
    err.status = res.status;
    err.fields = Array.isArray(data.fields) ? data.fields : [];
    throw err;
  }
  return data;
}

function when(a) {
  if (a.season) return a.season;
  return a.year ? String(a.year) : "";
}

function metaLine(a) {
  return [a.type, when(a), a.episodes ? `${a.episodes} ep.` : null].filter(Boolean).join(" · ");
}

function people(n) {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1).replace(/\.0$/, "")}M`;
  if (n >= 1e3) return `${Math.round(n / 1e3)}k`;
  return String(n);
}

// --- state that survives a reload ----------------------------------------------------------------
function loadJson(key, fallback) {
  try {
    const v = JSON.parse(localStorage.getItem(key));
    return v === null ? fallback : v;
  } catch (e) {
    return fallback;
  }
}

function savePrefs() {
  localStorage.setItem(PREFS_KEY, JSON.stringify({
    model: $("model").value, explore: $("explore").value, includeAdult: $("adult").checked,
    filters: readFilters(),
  }));
}

// --- filters -------------------------------------------------------------------------------------
const FILTER_INPUTS = ["year-min", "year-max", "season", "min-episodes", "genres", "exclude-genres"];
const FILTER_LABELS = {
  types: "type", year_min: "from year", year_max: "to year", seasons: "season",
  genres: "with genres", exclude_genres: "without genres", min_episodes: "at least … episodes",
};

function typeBoxes() {
  return [...document.querySelectorAll("#filters input[name=type]")];
}

function readFilters() {
  const f = { types: typeBoxes().filter((b) => b.checked).map((b) => b.value) };
  for (const id of FILTER_INPUTS) f[id] = $(id).value.trim();
  return f;
}

function writeFilters(f) {
  const types = new Set(Array.isArray(f.types) ? f.types : []);
  for (const b of typeBoxes()) b.checked = types.has(b.value);
  for (const id of FILTER_INPUTS) $(id).value = typeof f[id] === "string" ? f[id] : "";
  summarizeFilters();
}

function genreList(text) {
  return text.split(",").map((g) => g.trim()).filter(Boolean);
}

function filterParams(qs) {
  // The API's query parameters: repeated ones for lists (?types=TV&types=Movie).
  const f = readFilters();
  for (const t of f.types) qs.append("types", t);
  if (f["year-min"]) qs.set("year_min", f["year-min"]);
  if (f["year-max"]) qs.set("year_max", f["year-max"]);
  if (f.season) qs.set("seasons", f.season);
  if (f["min-episodes"]) qs.set("min_episodes", f["min-episodes"]);
  for (const g of genreList(f.genres)) qs.append("genres", g);
  for (const g of genreList(f["exclude-genres"])) qs.append("exclude_genres", g);
  return qs;
}

function summarizeFilters() {
  const f = readFilters();
  const years = f["year-min"] || f["year-max"] ? `${f["year-min"] || "…"}–${f["year-max"] || "…"}` : "";
  const parts = [f.types.join("/"), years, f.season,
    f["min-episodes"] ? `≥ ${f["min-episodes"]} ep.` : "",
    ...genreList(f.genres), ...genreList(f["exclude-genres"]).map((g) => `no ${g}`)].filter(Boolean);
  $("filter-summary").textContent = parts.length ? `· ${parts.join(" · ")}` : "";
}

function errorMessage(e) {
  // A 422 on a filter says which control to fix, in the page's words and the API's field name.
  if (e.status !== 422 || !e.fields || !e.fields.length) return e.message;
  return e.fields.map((f) => {
    const name = String(f.field || "").replace(/\[\d+\]$/, "");
    const label = FILTER_LABELS[name];
    const msg = String(f.message || "invalid").replace(`${f.field}: `, "");
    return label ? `Filter “${label}” (${name}): ${msg}` : `${f.field}: ${msg}`;
  }).join("; ");
}

async function loadGenres() {
  try {
    const r = await api("GET", `/genres?${adultParam(new URLSearchParams())}`);
    $("genre-list").replaceChildren(...r.genres.map((g) => el("option", { value: g.name })));
  } catch (e) {
    status(`Could not load the genres: ${e.message}`, true);
  }
}

function restorePrefs() {
  const p = loadJson(PREFS_KEY, {});
  if (p.model && [...$("model").options].some((o) => o.value === p.model)) $("model").value = p.model;
  if (p.explore !== undefined && !Number.isNaN(Number(p.explore))) $("explore").value = p.explore;
  $("adult").checked = p.includeAdult === true;
  writeFilters(p.filters && typeof p.filters === "object" ? p.filters : {});
  excluded = new Set(loadJson(EXCLUDED_KEY, []).filter(Number.isInteger));
}

function adultParam(qs) {
  if ($("adult").checked) qs.set("include_adult", "true");
  return qs;
}

// --- the user ---------------------------------------------------------------------------------
function forgetUser() {
  localStorage.removeItem(USER_KEY);
  userId = null;
  token = null;
}

function userPath(rest = "") {
  return `/users/${encodeURIComponent(userId)}${rest}`;
}

async function ensureUser() {
  if (userId !== null) return userId;
  const u = await api("POST", "/users", {});
  userId = u.id;
  token = u.token;
  localStorage.setItem(USER_KEY, JSON.stringify({ id: userId, token }));
  return userId;
}

function savedUser() {
  try {
    const v = JSON.parse(localStorage.getItem(USER_KEY) || "null");
    return v && typeof v.id === "string" && typeof v.token === "string" ? v : null;
  } catch (e) {
    return null;
  }
}

async function restoreUser() {
  const saved = savedUser();
  if (saved === null) {
    localStorage.removeItem(USER_KEY); // an id from before tokens: it cannot be used any more
    return null;
  }
  userId = saved.id;
  token = saved.token;
  try {
    return await api("GET", userPath());
  } catch (e) {
    if (e.status === 401 || e.status === 404) forgetUser();
    return null;
  }
}

async function rate(animeId, rating) {
  await ensureUser();
  await api("PUT", userPath(`/ratings/${animeId}`), { rating });
}

// --- search -----------------------------------------------------------------------------------
function renderSuggestions(items, query) {
  const ul = $("suggestions");
  ul.replaceChildren();
  if (!items.length) {
    ul.append(el("li", { class: "suggestion none" }, `No titles match “${query}”.`));
    return;
  }
  for (const a of items) {
    const pick = (rating) => async () => {
      cancelSearch();
      $("search").value = "";
      try {
        await rate(a.anime_id, rating);
        await refresh();
        $("search").focus();
      } catch (e) {
        status(e.message, true);
      }
    };
    const mine = rated.get(a.anime_id);
    ul.append(
      el("li", { class: mine ? "suggestion rated" : "suggestion", dataset: { animeId: a.anime_id } },
        el("span", { class: "s-title" },
          el("strong", {}, a.name),
          a.english_name && a.english_name !== a.name ? el("em", {}, ` ${a.english_name}`) : null,
          el("small", {}, ` ${metaLine(a)}`),
          mine ? el("small", { class: "mine" }, ` — you: ${ratingLabel(mine)}`) : null),
        el("span", { class: "s-actions" },
          el("button", { type: "button", class: "like", title: "I liked it", onclick: pick(LIKED) }, "Liked it"),
          el("button", { type: "button", class: "dislike", title: "I disliked it", onclick: pick(DISLIKED) }, "Disliked"))));
  }
}

let searchTimer = null;
function cancelSearch() {
  // Drops a pending or in-flight search, so a stale answer cannot reopen the list.
  clearTimeout(searchTimer);
  searchSeq++;
  $("suggestions").replaceChildren();
}

function onSearchInput() {
  cancelSearch();
  const q = $("search").value.trim();
  if (!q) return;
  const seq = searchSeq;
  searchTimer = setTimeout(async () => {
    try {
      const qs = adultParam(new URLSearchParams({ q, limit: "8" }));
      const r = await api("GET", `/anime/search?${qs}`);
      if (seq === searchSeq) renderSuggestions(r.items, q);
    } catch (e) {
      if (seq === searchSeq) status(e.message, true);
    }
  }, 150);
}

// --- ratings and recommendations -------------------------------------------------------------
function ratingLabel(r) {
  if (r === LIKED) return "liked";
  if (r === DISLIKED) return "disliked";
  return `${r}/10`;
}

function renderPicks(inputs) {
  rated = new Map(inputs.map((p) => [p.anime_id, p.rating]));
  const ul = $("picks");
  ul.replaceChildren();
  for (const p of inputs.slice(0, SHOWN_PICKS)) {
    ul.append(
      el("li", { class: `pick ${p.rating >= 7 ? "pos" : p.rating <= 4 ? "neg" : ""}`, dataset: { animeId: p.anime_id } },
        el("span", { class: "pick-rating" }, ratingLabel(p.rating)),
        el("span", { class: "pick-name" }, p.name),
        el("button", {
          type: "button", class: "remove", "aria-label": `remove ${p.name}`,
          onclick: async () => {
            try {
              await api("DELETE", userPath(`/ratings/${p.anime_id}`));
              await refresh();
            } catch (e) { status(e.message, true); }
          },
        }, "×")));
  }
  if (inputs.length > SHOWN_PICKS) {
    ul.append(el("li", { class: "pick more" }, `and ${inputs.length - SHOWN_PICKS} more`));
  }
}

// Reasons come from the models with their numbers ("because you liked Monster (0.81)"); a fan
// reads them in words.
function reasonInWords(reason) {
  let r = (reason || "").trim();
  if (!r) return "picked for you";
  let prefix = "";
  // A title few fans have rated yet (the pipeline's evidence rule) says so first.
  const unproven = r.match(/^new: few fans have rated it yet(?: — (.*))?$/);
  if (unproven) {
    if (!unproven[1]) return "new: few fans have rated it yet";
    prefix = "new: few fans have rated it yet — ";
    r = unproven[1];
  }
  const fresh = r.match(/^new to you: (.+?) — (.*)$/);
  if (fresh) {
    prefix += `something new for you (${fresh[1]}) — `;
    r = fresh[2];
  }
  let m = r.match(/^because you liked (.+?)(?: \(-?[\d.]+\))?$/);
  // not "fans of X loved this" for a title few fans have rated: say what it is like
  if (m) return prefix + (unproven ? `picked because it is like ${m[1]}` : `fans of ${m[1]} loved this`);
  if (/with tastes like yours rated it/.test(r)) return `${prefix}fans with tastes like yours loved it`;
  if (/^popular( with fans)?:/.test(r)) return `${prefix}a favourite of many fans`;
  m = r.match(/^(\d+)% of its [\d,]+ raters rated it/);
  if (m) return prefix + (Number(m[1]) >= 30 ? "its fans rate it very highly" : "liked by the fans who found it");
  if (r === "similar to what you rated") return `${prefix}like what you rated`;
  return prefix + r.replace(/\s*\(-?\d+(\.\d+)?\)/g, "").replace(/-?\d+\.\d+/g, "").trim();
}

function matchDots(item, top, bottom) {
  // A small "match" indicator instead of the raw score: 5 dots for the best of this list.
  const span = top - bottom;
  const level = span > 0 ? 1 + Math.round((4 * (item.score - bottom)) / span) : 5;
  const words = ["", "a long shot", "a fair match", "a good match", "a strong match", "the best match"][level];
  return el("span", { class: "match", role: "img", "aria-label": words, title: words },
    ...Array.from({ length: 5 }, (_, i) => el("i", { class: i < level ? "on" : "" })));
}

function card(item, top, bottom) {
  const rateAndRefresh = (rating) => async (ev) => {
    ev.currentTarget.closest(".card").classList.add("rated");
    try {
      await rate(item.anime_id, rating);
      status(rating === DISLIKED ? `Not interested: ${item.name}` : `Saved: ${item.name} (${ratingLabel(rating)})`);
      await refresh();
    } catch (e) {
      status(e.message, true);
    }
  };
  const select = el("select", { class: "rate-select", "aria-label": `rate ${item.name} 1 to 10` },
    el("option", { value: "" }, "rate…"),
    ...Array.from({ length: 10 }, (_, i) => el("option", { value: String(10 - i) }, String(10 - i))));
  select.addEventListener("change", (ev) => {
    if (ev.target.value) rateAndRefresh(Number(ev.target.value))(ev);
  });
  const facts = [
    item.mal_score ? `MAL ${item.mal_score.toFixed(2)}` : null,
    item.members ? `${people(item.members)} members` : null,
  ].filter(Boolean).join(" · ");
  return el("article", { class: "card", dataset: { animeId: item.anime_id } },
    el("h3", { class: "title" }, item.name),
    item.english_name && item.english_name !== item.name ? el("p", { class: "english" }, item.english_name) : null,
    el("p", { class: "meta" }, metaLine(item)),
    el("ul", { class: "genres" }, ...item.genres.slice(0, 6).map((g) => el("li", {}, g))),
    el("p", { class: "reason" }, matchDots(item, top, bottom), reasonInWords(item.reason)),
    facts ? el("p", { class: "facts" }, facts) : null,
    el("div", { class: "rate" },
      el("button", { type: "button", class: "thumb-up", title: "liked it", onclick: rateAndRefresh(LIKED) }, "Like"),
      el("button", { type: "button", class: "thumb-down", title: "acts like a dislike", onclick: rateAndRefresh(DISLIKED) }, "Not interested"),
      select,
      el("button", { type: "button", class: "more-like", onclick: () => showSimilar(item) }, "More like this")));
}

function renderCards(items) {
  const top = items.length ? items[0].score : 0;
  const bottom = items.length ? items[items.length - 1].score : 0;
  $("results").replaceChildren(...items.map((it) => card(it, top, bottom)));
}

function keep(items) {
  // Leaves out what an imported list says you are watching, planning or dropped.
  return items.filter((it) => !excluded.has(it.anime_id) && !rated.has(it.anime_id)).slice(0, K);
}

function wanted() {
  return String(Math.min(MAX_K, K + excluded.size));
}

async function showSimilar(item) {
  view = { id: item.anime_id, name: item.name };
  await refresh();
  $("recs-heading").scrollIntoView({ block: "start" });
}

async function refresh() {
  const seq = ++refreshSeq;
  if (userId === null) {
    renderPicks([]);
    $("results").replaceChildren();
    $("empty").hidden = false;
    $("like-this").hidden = true;
    return;
  }
  const explore = $("explore").value;
  const model = $("model").value;
  const qs = filterParams(adultParam(new URLSearchParams({ k: wanted(), explore })));
  if (model) qs.set("model", model);
  $("results").setAttribute("aria-busy", "true");
  $("like-this").hidden = view === null;
  try {
    const r = await api("GET", userPath(`/recommendations?${qs}`));
    if (seq !== refreshSeq) return;
    renderPicks(r.input);
    let items = r.items;
    if (view !== null) {
      qs.delete("explore");
      const sim = await api("GET", `/anime/${view.id}/similar?${qs}`);
      if (seq !== refreshSeq) return;
      items = sim.items;
      $("like-this-text").textContent = `More like ${view.name}`;
    }
    items = keep(items);
    renderCards(items);
    $("empty").hidden = items.length > 0;
    if (!items.length && r.input.length) {
      status($("filter-summary").textContent
        ? "Nothing matches these filters: widen them or clear them."
        : "No recommendations from these ratings yet: add a title you liked.");
    } else if ($("status").classList.contains("error")) status("");
  } catch (e) {
    if (seq === refreshSeq) status(errorMessage(e), true);
  } finally {
    if (seq === refreshSeq) $("results").removeAttribute("aria-busy");
  }
}

// --- bring your MyAnimeList list ---------------------------------------------------------------
function importSummary(r) {
  const parts = [`Imported ${r.history.length} rated ${r.history.length === 1 ? "title" : "titles"}`];
  if (r.dislikes.length) parts[0] += ` and ${r.dislikes.length} dropped (read as dislikes)`;
  const out = r.excluded.length - r.dislikes.length;
  if (out > 0) parts.push(`${out} you are watching, planning or have not scored stay out of your list`);
  const n = r.unknown_ids.length;
  if (n) parts.push(`${n} ${n === 1 ? "title is" : "titles are"} not in this catalog (skipped)`);
  return `${parts.join("; ")}.`;
}

async function importList(file) {
  const out = $("import-result");
  out.classList.remove("error");
  if (file.size > MAX_UPLOAD) {
    out.textContent = `That file is ${people(file.size)} bytes; the limit is 8 MB.`;
    out.classList.add("error");
    return;
  }
  out.textContent = `Reading ${file.name}…`;
  try {
    await ensureUser();
    const form = new FormData();
    form.append("file", file);
    const res = await fetch(userPath("/import"), {
      method: "POST", body: form, headers: { Authorization: `Bearer ${token}` },
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(data.message || `${res.status} ${res.statusText}`);
    excluded = new Set(data.excluded.map((e) => e.anime_id));
    localStorage.setItem(EXCLUDED_KEY, JSON.stringify([...excluded]));
    out.textContent = importSummary(data);
    await refresh();
  } catch (e) {
    out.textContent = `Could not read that list: ${e.message}`;
    out.classList.add("error");
  }
}

// --- start over ----------------------------------------------------------------------------------
async function eraseServerCopy() {
  await api("DELETE", userPath()); // the user and every rating
}

async function startOver(erase) {
  try {
    if (erase && userId !== null) await eraseServerCopy();
  } catch (e) {
    status(`Could not erase your ratings on the server: ${e.message}`, true);
    return;
  }
  forgetUser();
  localStorage.removeItem(EXCLUDED_KEY);
  excluded = new Set();
  view = null;
  $("import-result").textContent = "";
  status(erase ? "Started over; your ratings were erased from the server." : "Started over.");
  await refresh();
}

async function init() {
  $("search").addEventListener("input", onSearchInput);
  for (const id of ["explore", "model", "adult"]) {
    $(id).addEventListener("change", () => {
      savePrefs();
      refresh();
      if (id === "adult" && $("search").value.trim()) onSearchInput();
      if (id === "adult") loadGenres();
    });
  }
  for (const node of [...typeBoxes(), ...FILTER_INPUTS.map($)]) {
    node.addEventListener("change", () => {
      summarizeFilters();
      savePrefs();
      refresh();
    });
  }
  $("clear-filters").addEventListener("click", () => {
    writeFilters({});
    savePrefs();
    refresh();
  });
  $("mal-file").addEventListener("change", (ev) => {
    const f = ev.target.files[0];
    if (f) importList(f).finally(() => { ev.target.value = ""; });
  });
  $("back").addEventListener("click", () => { view = null; refresh(); });
  const dialog = $("reset-dialog");
  const ask = (erase) => () => {
    $("erase-too").checked = erase;
    dialog.returnValue = "";
    dialog.showModal();
  };
  $("reset").addEventListener("click", ask(true));
  $("erase").addEventListener("click", ask(true)); // erasing asks first too
  
  dialog.addEventListener("close", () => {
    if (dialog.returnValue === "confirm") startOver($("erase-too").checked);
  });
  try {
    const h = await api("GET", "/health");
    $("model").replaceChildren(...h.models.map((m) =>
      el("option", m === h.default_model ? { value: m, selected: "" } : { value: m }, m)));
  } catch (e) {
    status(`The server is not answering: ${e.message}`, true);
  }
  restorePrefs();
  loadGenres();
  await restoreUser();
  await refresh();
  document.body.dataset.ready = "true";
}

document.addEventListener("DOMContentLoaded", init);

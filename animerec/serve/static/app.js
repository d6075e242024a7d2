// The fan page: search titles, rate them, get recommendations. Plain JS against the REST API.
// Every rating (a search pick or a card's thumbs/1–10) is stored for this browser's user via
// PUT /users/{id}/ratings/{anime_id}; the list always comes from GET /users/{id}/recommendations.
// The user's id and secret token (from POST /users, shown once) live in localStorage; every
// /users/... call sends the token as "Authorization: Bearer ...".
"use strict";

const LIKED = 10;
const DISLIKED = 1;
const K = 12;
const USER_KEY = "animerec.user";

const $ = (id) => document.getElementById(id);
let userId = null;
let token = null;
let searchSeq = 0;
let refreshSeq = 0;
let rated = new Map(); // anime_id -> rating, from the last refresh

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

// --- the user ---------------------------------------------------------------------------------
function forgetUser() {
  localStorage.removeItem(USER_KEY);
  userId = null;
  token = null;
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
    return await api("GET", `/users/${encodeURIComponent(userId)}`);
  } catch (e) {
    if (e.status === 401 || e.status === 404) forgetUser();
    return null;
  }
}

async function rate(animeId, rating) {
  await ensureUser();
  await api("PUT", `/users/${encodeURIComponent(userId)}/ratings/${animeId}`, { rating });
}

// --- search -----------------------------------------------------------------------------------
function renderSuggestions(items) {
  const ul = $("suggestions");
  ul.replaceChildren();
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
      const r = await api("GET", `/anime/search?q=${encodeURIComponent(q)}&limit=8`);
      if (seq === searchSeq) renderSuggestions(r.items);
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
  for (const p of inputs) {
    ul.append(
      el("li", { class: `pick ${p.rating >= 7 ? "pos" : p.rating <= 4 ? "neg" : ""}`, dataset: { animeId: p.anime_id } },
        el("span", { class: "pick-rating" }, ratingLabel(p.rating)),
        el("span", { class: "pick-name" }, p.name),
        el("button", {
          type: "button", class: "remove", "aria-label": `remove ${p.name}`,
          onclick: async () => {
            try {
              await api("DELETE", `/users/${encodeURIComponent(userId)}/ratings/${p.anime_id}`);
              await refresh();
            } catch (e) { status(e.message, true); }
          },
        }, "×")));
  }
}

function card(item) {
  const rateAndRefresh = (rating) => async (ev) => {
    ev.currentTarget.closest(".card").classList.add("rated");
    try {
      await rate(item.anime_id, rating);
      status(`Saved: ${item.name} (${ratingLabel(rating)})`);
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
  return el("article", { class: "card", dataset: { animeId: item.anime_id } },
    el("h3", { class: "title" }, item.name),
    item.english_name && item.english_name !== item.name ? el("p", { class: "english" }, item.english_name) : null,
    el("p", { class: "meta" }, metaLine(item)),
    el("ul", { class: "genres" }, ...item.genres.slice(0, 6).map((g) => el("li", {}, g))),
    el("p", { class: "reason" }, item.reason),
    el("p", { class: "score" },
      `score ${item.score.toFixed(3)}`,
      item.mal_score ? ` · MAL ${item.mal_score.toFixed(2)}` : ""),
    el("div", { class: "rate" },
      el("button", { type: "button", class: "thumb-up", title: "liked it", onclick: rateAndRefresh(LIKED) }, "Like"),
      el("button", { type: "button", class: "thumb-down", title: "not for me", onclick: rateAndRefresh(DISLIKED) }, "Dislike"),
      select));
}

async function refresh() {
  const seq = ++refreshSeq;
  if (userId === null) {
    renderPicks([]);
    $("results").replaceChildren();
    $("empty").hidden = false;
    return;
  }
  const explore = $("explore").value;
  const model = $("model").value;
  const qs = new URLSearchParams({ k: String(K), explore });
  if (model) qs.set("model", model);
  $("results").setAttribute("aria-busy", "true");
  try {
    const r = await api("GET", `/users/${encodeURIComponent(userId)}/recommendations?${qs}`);
    if (seq !== refreshSeq) return;
    renderPicks(r.input);
    $("results").replaceChildren(...r.items.map(card));
    $("empty").hidden = r.items.length > 0;
    if (!r.items.length && r.input.length) status("No recommendations from these ratings yet: add a title you liked.");
  } catch (e) {
    status(e.message, true);
  } finally {
    if (seq === refreshSeq) $("results").removeAttribute("aria-busy");
  }
}

async function init() {
  $("search").addEventListener("input", onSearchInput);
  $("explore").addEventListener("change", refresh);
  $("model").addEventListener("change", refresh);
  $("reset").addEventListener("click", async () => {
    forgetUser();
    status("");
    await refresh();
  });
  $("erase").addEventListener("click", async () => {
    if (userId === null) return;
    try {
      await api("DELETE", `/users/${encodeURIComponent(userId)}`);
      forgetUser();
      status("Your ratings were erased from the server.");
      await refresh();
    } catch (e) {
      status(e.message, true);
    }
  });
  try {
    const h = await api("GET", "/health");
    $("model").replaceChildren(...h.models.map((m) =>
      el("option", m === h.default_model ? { value: m, selected: "" } : { value: m }, m)));
  } catch (e) {
    status(`The server is not answering: ${e.message}`, true);
  }
  await restoreUser();
  await refresh();
  document.body.dataset.ready = "true";
}

document.addEventListener("DOMContentLoaded", init);

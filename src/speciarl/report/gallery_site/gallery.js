// SpeciaRL gallery: runs side by side by sample_id, filters, counts, a detail dialog.
// Data come as <script> files (file:// forbids fetch of local JSON in Chromium): data/meta.js calls
// SPECIARL_GALLERY.meta(), each data/index-NNNN.js calls .index(), each data/detail-NNNN.js .detail().
// Model output is untrusted text: it only ever reaches the page through textContent.
"use strict";
(function () {
  const CODE_RANK = [0, 1, 2, 3, 4, 4, -1]; // reward rank per code (specific = more specific); parse failure lowest
  const CORRECT = [false, false, true, true, true, true, false];
  const PAGE_SIZES = [60, 120, 240];
  const t0 = performance.now();
  const G = {
    meta: null, ids: [], cls: [], img: [], runs: [], text: [], loaded: 0,
    details: {}, detailWaiters: {}, page: 0, pageSize: 120, selection: [], timings: {},
  };
  window.SPECIARL_GALLERY = G;
  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  };
  const fmt = (x) => (x === null || x === undefined ? "–" : x.toFixed(3));
  const loadScript = (src) => {
    const s = document.createElement("script");
    s.src = src;
    s.onerror = () => setStatus("could not load " + src + " (is the gallery folder complete?)", true);
    document.body.appendChild(s);
  };
  const pad = (k) => String(k).padStart(4, "0");
  function setStatus(text, bad) {
    const s = $("status");
    s.textContent = text;
    if (bad) s.style.color = "#b00";
  }

  G.meta = function (meta) {
    G.meta = meta;
    G.runs = meta.runs.map((r) => ({ name: r.name, n: r.n, c: [], a: [], h: r.n > 1 ? [] : null }));
    setupFilters(meta);
    $("total-count").textContent = meta.total.toLocaleString("en");
    if (meta.indexChunks === 0) { finishLoading(); return; }
    loadScript("data/index-" + pad(0) + ".js");
  };

  G.index = function (k, chunk) {
    const base = G.ids.length;
    for (let i = 0; i < chunk.ids.length; i++) {
      G.ids.push(chunk.ids[i]); G.cls.push(chunk.cls[i]); G.img.push(chunk.img[i]);
    }
    chunk.runs.forEach((r, j) => {
      const run = G.runs[j];
      for (let i = 0; i < r.c.length; i++) {
        run.c.push(r.c[i]); run.a.push(r.a[i]);
        if (run.h) run.h.push(r.h[i]);
      }
    });
    G.text.length = G.ids.length;
    G.loaded = k + 1;
    setStatus("loaded " + G.ids.length.toLocaleString("en") + " of " + G.meta.total.toLocaleString("en") + " samples…");
    if (k === 0 || G.loaded === G.meta.indexChunks) applyFilters(k === 0);  // keep the page the reader is on
    if (k === 0) requestAnimationFrame(() => { G.timings.firstCards = performance.now() - t0; });
    if (G.loaded < G.meta.indexChunks) setTimeout(() => loadScript("data/index-" + pad(k + 1) + ".js"), 0);
    else finishLoading(base);
  };

  function finishLoading() {
    G.timings.allLoaded = performance.now() - t0;
    setStatus(G.ids.length.toLocaleString("en") + " samples · " + G.runs.length + " run(s) · generated " + G.meta.generated);
    document.body.dataset.loaded = "1";
  }

  G.detail = function (k, items) {
    G.details[k] = items;
    (G.detailWaiters[k] || []).forEach((f) => f(items));
    delete G.detailWaiters[k];
  };

  function classOf(i) { return G.meta.classes[G.cls[i]]; }
  function searchText(i) {
    let t = G.text[i];
    if (t === undefined) {
      const parts = [G.ids[i], classOf(i)[1]];
      for (const run of G.runs) if (run.a[i]) parts.push(run.a[i]);
      t = G.text[i] = parts.join("\n").toLowerCase();
    }
    return t;
  }

  // ---- filters -------------------------------------------------------------------------------
  function option(select, value, label) {
    const o = el("option", null, label);
    o.value = value;
    select.appendChild(o);
  }
  function setupFilters(meta) {
    meta.datasets.forEach((d, i) => option($("f-dataset"), String(i), d));
    fillClasses();
    const runsBox = $("f-runs");
    meta.runs.forEach((r, j) => {
      const label = el("label", null, r.name + (r.n > 1 ? " (best of " + r.n + ") " : " "));
      const s = el("select");
      s.id = "f-run-" + j;
      s.dataset.run = String(j);
      option(s, "", "any category");
      option(s, "correct", "correct");
      option(s, "incorrect", "not correct");
      meta.codes.forEach((c, code) => option(s, String(code), c));
      option(s, "absent", "not in run");
      label.appendChild(s);
      runsBox.appendChild(label);
      s.addEventListener("change", () => applyFilters(true));
      option($("f-from"), String(j), r.name);
      option($("f-to"), String(j), r.name);
    });
    if (meta.runs.length > 1) $("f-to").value = "1";
    fromHash(meta);
    $("f-dataset").addEventListener("change", () => { fillClasses(); applyFilters(true); });
    for (const id of ["f-class", "f-from", "f-to", "f-transition"]) $(id).addEventListener("change", () => applyFilters(true));
    let timer = null;
    $("f-search").addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => applyFilters(true), 150); });
    $("f-reset").addEventListener("click", () => {
      for (const s of document.querySelectorAll("#filters select")) s.selectedIndex = 0;
      if (meta.runs.length > 1) $("f-to").value = "1";
      $("f-search").value = "";
      fillClasses();
      applyFilters(true);
    });
    $("cards").addEventListener("click", (e) => { const c = e.target.closest(".card"); if (c) openDetail(+c.dataset.i); });
    $("cards").addEventListener("keydown", (e) => {
      const c = e.target.closest(".card");
      if (c && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); openDetail(+c.dataset.i); }
    });
  }
  function fromHash(meta) {
    // index.html#class=<dataset>/<class> (links on the per-class page): preselect that class
    const m = /^#class=([^/]*)\/(.*)$/.exec(location.hash);
    if (!m) return;
    const ds = meta.datasets.indexOf(decodeURIComponent(m[1])), gt = decodeURIComponent(m[2]);
    const cls = meta.classes.findIndex((c) => c[0] === ds && c[1] === gt);
    if (cls < 0) return;
    $("f-dataset").value = String(ds);
    fillClasses();
    $("f-class").value = String(cls);
  }
  function fillClasses() {
    const select = $("f-class");
    const keep = select.value;
    select.textContent = "";
    option(select, "", "all");
    const ds = $("f-dataset").value;
    G.meta.classes.forEach((c, i) => {
      if (ds === "" || String(c[0]) === ds) option(select, String(i), c[1] + (ds === "" && G.meta.datasets.length > 1 ? " (" + G.meta.datasets[c[0]] + ")" : ""));
    });
    select.value = [...select.options].some((o) => o.value === keep) ? keep : "";
  }
  function categoryTest(value) {
    if (value === "") return null;
    if (value === "correct") return (c) => c >= 0 && CORRECT[c];
    if (value === "incorrect") return (c) => c >= 0 && !CORRECT[c];
    if (value === "absent") return (c) => c < 0;
    const code = +value;
    return (c) => c === code;
  }
  function transitionTest(kind) {
    switch (kind) {
      case "gain": return (a, b) => (a === 2 || a === 3) && (b === 4 || b === 5);
      case "regression": return (a, b) => CORRECT[a] && (b === 0 || b === 6);
      case "abstain": return (a, b) => a === 1 && b !== 1;
      case "better": return (a, b) => CODE_RANK[b] > CODE_RANK[a];
      case "worse": return (a, b) => CODE_RANK[b] < CODE_RANK[a];
      case "changed": return (a, b) => a !== b;
      default: return null;
    }
  }
  function currentFilters() {
    const ds = $("f-dataset").value, cl = $("f-class").value;
    const runTests = [];
    G.runs.forEach((run, j) => { const t = categoryTest($("f-run-" + j).value); if (t) runTests.push([run, t]); });
    return {
      ds: ds === "" ? -1 : +ds, cl: cl === "" ? -1 : +cl, runTests,
      from: G.runs[+$("f-from").value], to: G.runs[+$("f-to").value],
      transition: transitionTest($("f-transition").value),
      q: $("f-search").value.trim().toLowerCase(),
    };
  }
  function applyFilters(resetPage) {
    const f = currentFilters();
    const sel = [];
    const classes = G.meta.classes;
    for (let i = 0; i < G.ids.length; i++) {
      if (f.cl >= 0 && G.cls[i] !== f.cl) continue;
      if (f.ds >= 0 && classes[G.cls[i]][0] !== f.ds) continue;
      let ok = true;
      for (const [run, t] of f.runTests) if (!t(run.c[i])) { ok = false; break; }
      if (!ok) continue;
      if (f.transition) {
        const a = f.from.c[i], b = f.to.c[i];
        if (a < 0 || b < 0 || !f.transition(a, b)) continue;
      }
      if (f.q && !searchText(i).includes(f.q)) continue;
      sel.push(i);
    }
    G.selection = sel;
    if (resetPage) G.page = 0;
    renderStats(sel);
    $("match-count").dataset.query = f.q;  // the search text this count reflects (the search input is debounced)
    renderPage();
  }

  // ---- counts --------------------------------------------------------------------------------
  function metrics(counts) {
    const total = counts.reduce((a, b) => a + b, 0);
    if (total === 0) return { total: 0, correctness: null, specificity: null, hm: null };
    const correct = counts[2] + counts[3] + counts[4] + counts[5];
    const correctness = correct / total;
    const specificity = correct > 0 ? (counts[4] + counts[5]) / correct : 0;
    const hm = correctness + specificity === 0 ? 0 : (2 * correctness * specificity) / (correctness + specificity);
    return { total, correctness, specificity, hm };
  }
  function statsRow(table, label, runName, kind, samples, counts) {
    const m = metrics(counts);
    const tr = el("tr");
    tr.dataset.run = runName;
    tr.dataset.kind = kind;
    tr.appendChild(el("td", null, label));
    const cell = (metric, value, text) => {
      const td = el("td", "num", text);
      td.dataset.metric = metric;
      if (value !== null) td.dataset.value = String(value);
      tr.appendChild(td);
    };
    cell("samples", samples, samples.toLocaleString("en"));
    cell("count", m.total, m.total.toLocaleString("en"));
    G.meta.codes.forEach((c, k) => cell(c, counts[k], counts[k].toLocaleString("en")));
    cell("correctness", m.correctness, fmt(m.correctness));
    cell("specificity", m.specificity, fmt(m.specificity));
    cell("hm", m.hm, fmt(m.hm));
    table.appendChild(tr);
  }
  function renderStats(sel) {
    $("match-count").textContent = sel.length.toLocaleString("en");
    $("match-count").dataset.value = String(sel.length);
    const table = $("stats");
    table.textContent = "";
    const head = el("tr");
    for (const h of ["run", "samples", "predictions", ...G.meta.codes, "correct", "specific", "HM"]) head.appendChild(el("th", "num", h));
    head.firstChild.className = "";
    table.appendChild(head);
    for (const run of G.runs) {
      const all = [0, 0, 0, 0, 0, 0, 0], best = [0, 0, 0, 0, 0, 0, 0];
      let samples = 0;
      for (const i of sel) {
        const c = run.c[i];
        if (c < 0) continue;
        samples++;
        best[c]++;
        if (run.h) { const h = run.h[i]; for (let k = 0; k < 7; k++) all[k] += h[k]; }
      }
      statsRow(table, run.name, run.name, "all", samples, run.h ? all : best);
      if (run.h) statsRow(table, run.name + " best-of-" + run.n, run.name, "best", samples, best);
    }
  }

  // ---- cards ---------------------------------------------------------------------------------
  function badge(code) {
    if (code < 0) return el("span", "badge cabsent", "not in run");
    return el("span", "badge c" + code, G.meta.codes[code]);
  }
  function hist(h) {
    const bar = el("div", "hist");
    const total = h.reduce((a, b) => a + b, 0);
    h.forEach((n, k) => { if (n) { const s = el("span", "c" + k); s.style.width = (100 * n / total) + "%"; s.title = G.meta.codes[k] + ": " + n; bar.appendChild(s); } });
    return bar;
  }
  function card(i) {
    const c = el("article", "card");
    c.dataset.i = String(i);
    c.tabIndex = 0;
    if (G.img[i]) {
      const img = el("img", "thumb");
      img.loading = "lazy"; img.decoding = "async"; img.alt = classOf(i)[1]; img.src = G.img[i];
      c.appendChild(img);
    } else c.appendChild(el("div", G.meta.images ? "ph" : "ph small", "no image"));
    c.appendChild(el("div", "gt", classOf(i)[1]));
    c.appendChild(el("div", "sid", G.meta.datasets[classOf(i)[0]] + " · " + G.ids[i]));
    const ul = el("ul", "answers");
    for (const run of G.runs) {
      const li = el("li");
      li.appendChild(el("span", "run", run.name + (run.h ? " (best of " + run.n + ")" : "")));
      li.appendChild(badge(run.c[i]));
      if (run.c[i] >= 0) li.appendChild(el("span", "ans", run.a[i] === null ? "(no answer)" : run.a[i]));
      if (run.h && run.h[i]) li.appendChild(hist(run.h[i]));
      ul.appendChild(li);
    }
    c.appendChild(ul);
    return c;
  }
  function renderPager(nav, pages) {
    nav.textContent = "";
    const button = (label, page, disabled) => {
      const b = el("button", null, label);
      b.type = "button"; b.disabled = disabled;
      b.addEventListener("click", () => { G.page = page; renderPage(); window.scrollTo(0, 0); });
      nav.appendChild(b);
    };
    button("« first", 0, G.page === 0);
    button("‹ prev", G.page - 1, G.page === 0);
    nav.appendChild(el("span", "page-info", "page " + (pages ? G.page + 1 : 0) + " of " + pages));
    button("next ›", G.page + 1, G.page >= pages - 1);
    button("last »", pages - 1, G.page >= pages - 1);
    const size = el("select");
    size.setAttribute("aria-label", "cards per page");
    PAGE_SIZES.forEach((n) => option(size, String(n), n + " per page"));
    size.value = String(G.pageSize);
    size.addEventListener("change", () => { G.pageSize = +size.value; G.page = 0; renderPage(); });
    nav.appendChild(size);
  }
  function renderPage() {
    const pages = Math.ceil(G.selection.length / G.pageSize);
    if (G.page >= pages) G.page = Math.max(0, pages - 1);
    renderPager($("pager"), pages);
    renderPager($("pager-bottom"), pages);
    const frag = document.createDocumentFragment();
    for (const i of G.selection.slice(G.page * G.pageSize, (G.page + 1) * G.pageSize)) frag.appendChild(card(i));
    const main = $("cards");
    main.textContent = "";
    main.appendChild(frag);
  }

  // ---- detail dialog -------------------------------------------------------------------------
  function withDetail(i, f) {
    const k = Math.floor(i / G.meta.detailChunkSize);
    if (G.details[k]) { f(G.details[k]); return; }
    const first = !G.detailWaiters[k];
    (G.detailWaiters[k] = G.detailWaiters[k] || []).push(f);
    if (first) loadScript("data/detail-" + pad(k) + ".js");
  }
  function openDetail(i) {
    const body = $("detail-body");
    body.textContent = "";
    body.appendChild(el("h2", null, classOf(i)[1]));
    body.appendChild(el("p", "sid", G.meta.datasets[classOf(i)[0]] + " · " + G.ids[i]));
    if (G.img[i]) { const img = el("img"); img.src = G.img[i]; img.alt = classOf(i)[1]; body.appendChild(img); }
    const holder = el("div", null, "loading…");
    body.appendChild(holder);
    const dialog = $("detail");
    if (!dialog.open) dialog.showModal();
    withDetail(i, (items) => renderDetail(holder, items[G.ids[i]]));
  }
  function renderDetail(holder, item) {
    holder.textContent = "";
    if (!item) { holder.textContent = "no detail for this sample"; return; }
    if (item.img) {
      const p = el("p", "muted");
      const a = el("a", null, "original image");
      a.href = "file://" + encodeURI(item.img).replace(/#/g, "%23").replace(/\?/g, "%3F");
      p.appendChild(a);
      p.appendChild(document.createTextNode(" " + item.img));
      holder.appendChild(p);
    }
    item.runs.forEach((preds, j) => {
      const run = G.runs[j];
      const section = el("section", "run-detail");
      section.dataset.run = run.name;
      section.appendChild(el("h3", null, run.name));
      if (!preds) { section.appendChild(el("p", "muted", "this sample is not in this run")); holder.appendChild(section); return; }
      if (preds.length > 1) {
        const counts = [0, 0, 0, 0, 0, 0, 0];
        preds.forEach((p) => counts[p[1]]++);
        section.appendChild(el("p", null, preds.length + " answers: " + counts.map((n, k) => n ? G.meta.codes[k] + " " + n : null).filter(Boolean).join(", ")));
      }
      for (const [index, code, answer, completion] of preds) {
        const head = el(preds.length > 1 ? "summary" : "p");
        if (preds.length > 1) head.appendChild(el("span", "run", "#" + index));
        head.appendChild(badge(code));
        head.appendChild(el("span", "ans", answer === null ? "(no answer)" : answer));
        const pre = el("pre", "completion", completion === null || completion === undefined ? "(no completion in the records)" : completion);
        if (preds.length > 1) { const d = el("details"); d.appendChild(head); d.appendChild(pre); section.appendChild(d); }
        else { section.appendChild(head); section.appendChild(pre); }
      }
      holder.appendChild(section);
    });
  }
})();

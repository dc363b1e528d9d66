// shoplens dashboard: a small single-page app over the REST API (no build step, no CDN).
"use strict";
(function () {
  const PAGES = ["overview", "segments", "customer", "reviews", "recs", "behaviour", "experiments", "quality"];
  const I18N = window.SHOPLENS_I18N;
  let lang = localStorage.getItem("shoplens.lang") || (navigator.language || "en").slice(0, 2);
  if (!I18N[lang]) lang = "en";
  const t = (k) => (I18N[lang][k] || I18N.en[k] || k);
  const $ = (sel) => document.querySelector(sel);
  const key = () => sessionStorage.getItem("shoplens.key");

  class ApiError extends Error { constructor(status, detail) { super(detail); this.status = status; } }

  async function api(path) {
    const res = await fetch("/api/v1" + path, { headers: { Authorization: "Bearer " + key() } });
    const body = await res.json().catch(() => ({}));
    if (res.status === 401) { logout(); throw new ApiError(401, body.detail || "unauthorised"); }
    if (!res.ok) throw new ApiError(res.status, typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail));
    return body;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v; else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c == null ? "" : String(c)));
    return node;
  }

  function fmt(v) {
    if (v == null) return "";
    if (typeof v === "number") return Number.isInteger(v) ? v.toLocaleString() : v.toLocaleString(undefined, { maximumFractionDigits: 3 });
    if (typeof v === "object") return JSON.stringify(v);
    return String(v);
  }

  function table(rows, columns) {
    if (!rows || !rows.length) return el("p", { class: "muted" }, t("no_rows"));
    const cols = columns || Object.keys(rows[0]);
    const head = el("tr", {}, ...cols.map((c) => el("th", {}, c)));
    // ids and years are labels, not quantities: no thousands separators
    const label = (r, c) => /(_id|year|version)$/.test(c) || /(_id|year|version)$/.test(String(r.field || ""));
    const body = rows.map((r) => el("tr", {}, ...cols.map((c) => el("td", { class: typeof r[c] === "number" ? "num" : "" },
      label(r, c) && r[c] != null ? String(r[c]) : fmt(r[c])))));
    return el("table", {}, el("thead", {}, head), el("tbody", {}, ...body));
  }

  function card(title, content) { return el("div", { class: "card" }, el("h2", {}, title), content); }

  function chart(title, traces, layout) {
    const div = el("div", { class: "chart" });
    const c = card(title, div);
    requestAnimationFrame(() => Plotly.newPlot(div, traces, Object.assign({ margin: { l: 60, r: 20, t: 10, b: 60 }, height: 320 }, layout || {}),
      { displaylogo: false, responsive: true }));
    return c;
  }

  function notice(err) {
    const text = err.status === 409 || err.status === 404 ? t("not_computed") + ": " + err.message : err.message;
    return el("p", { class: err.status === 409 || err.status === 404 ? "notice" : "error" }, text);
  }

  // Fetch several endpoints; a failing one becomes a notice instead of breaking the page.
  async function load(path) { try { return await api(path); } catch (e) { if (e.status === 401) throw e; return e; } }
  const failed = (x) => x instanceof ApiError;

  const render = {
    async overview(page) {
      const [ov, status] = await Promise.all([api("/overview"), api("/status")]);
      const k = ov.kpis, cur = k.currency || "";
      const items = [["customers", fmt(k.customers)], ["orders", fmt(k.orders)], ["revenue", cur + " " + fmt(Math.round(k.revenue || 0))],
        ["average_order_value", cur + " " + fmt(Math.round((k.average_order_value || 0) * 100) / 100)],
        ["repeat_purchase_rate", ((k.repeat_purchase_rate || 0) * 100).toFixed(1) + " %"], ["cancellations", fmt(k.cancellations)],
        ["period", String(k.first_order || "").slice(0, 10) + " … " + String(k.last_order || "").slice(0, 10)]];
      page.append(el("div", { class: "kpis", id: "kpis" }, ...items.map(([l, v]) => el("div", { class: "kpi" }, el("div", { class: "label" }, t(l)), el("div", { class: "value" }, v)))));
      const rbm = ov.revenue_by_month, cats = ov.top_categories;
      page.append(el("div", { class: "grid" },
        chart(t("revenue_by_month"), [{ type: "bar", x: rbm.map((r) => r.month), y: rbm.map((r) => r.revenue), marker: { color: "#2f6fde" } }]),
        chart(t("top_categories"), [{ type: "bar", orientation: "h", y: cats.map((r) => r.category), x: cats.map((r) => r.revenue) }], { yaxis: { autorange: "reversed", automargin: true } })));
      page.append(card(t("top_products"), table(ov.top_products)));
      page.append(el("div", { class: "grid" }, card(t("freshness"), table(status.computed)), card(t("models"), table(status.models))));
    },
    async segments(page) {
      const seg = await load("/segments?limit=100");
      if (failed(seg)) { page.append(notice(seg)); return; }
      const rows = seg.data;
      const name = (r) => String(r.segment_name ?? r.segment ?? r.name ?? r.segment_id);
      const size = (r) => r.customers ?? r.size ?? r.n_customers;
      const value = Object.keys(rows[0] || {}).find((c) => /clv|value/i.test(c) && typeof rows[0][c] === "number");
      const charts = [chart(t("segment_sizes"), [{ type: "bar", x: rows.map(name), y: rows.map(size) }])];
      if (value) charts.push(chart(t("segment_value") + " (" + value + ")", [{ type: "bar", x: rows.map(name), y: rows.map((r) => r[value]), marker: { color: "#16a085" } }]));
      page.append(el("div", { class: "grid" }, ...charts), card(t("segment_table"), table(rows)));
    },
    async customer(page) {
      const input = el("input", { id: "customer-id", required: "", value: sessionStorage.getItem("shoplens.customer") || "" });
      const form = el("form", { class: "inline", id: "customer-form" }, el("label", {}, t("customer_id")), input, el("button", { type: "submit" }, t("look_up")));
      const out = el("div", { id: "customer-out" });
      page.append(form, el("p", { class: "muted" }, t("masked_note")), out);
      async function show(id) {
        out.replaceChildren(el("p", { class: "muted" }, t("loading")));
        const prof = await load("/customers/" + encodeURIComponent(id));
        if (failed(prof)) { out.replaceChildren(notice(prof)); return; }
        sessionStorage.setItem("shoplens.customer", id);
        const flat = Object.entries(prof).filter(([, v]) => v === null || typeof v !== "object").map(([k, v]) => ({ field: k, value: v }));
        const parts = [card(t("profile"), table(flat, ["field", "value"]))];
        for (const [k, v] of Object.entries(prof)) {
          if (Array.isArray(v)) parts.push(card(k, table(v)));
          else if (v && typeof v === "object") parts.push(card(k, table(Object.entries(v).map(([a, b]) => ({ field: a, value: b })), ["field", "value"])));
        }
        if (Array.isArray(prof.orders_by_month) && prof.orders_by_month.length) {
          parts.unshift(chart(t("revenue_by_month"), [{ type: "bar", x: prof.orders_by_month.map((r) => r.month), y: prof.orders_by_month.map((r) => r.revenue) }]));
        }
        out.replaceChildren(el("div", { class: "grid" }, ...parts));
      }
      form.addEventListener("submit", (e) => { e.preventDefault(); show(input.value.trim()); });
      if (input.value) await show(input.value);
    },
    async reviews(page) {
      const ins = await load("/reviews/insights");
      if (failed(ins)) { page.append(notice(ins)); return; }
      const trend = ins.sentiment_by_month || [], aspects = ins.aspects || [];
      const charts = [];
      if (trend.length) {
        const cols = Object.keys(trend[0]).filter((c) => /share|score/.test(c) && typeof trend[0][c] === "number");
        charts.push(chart(t("sentiment_trend"), cols.map((c) => ({ type: "scatter", mode: "lines+markers", name: c, x: trend.map((r) => r.month), y: trend.map((r) => r[c]) }))));
      }
      if (aspects.length) {
        const label = Object.keys(aspects[0]).find((c) => typeof aspects[0][c] === "string");
        const nums = Object.keys(aspects[0]).filter((c) => typeof aspects[0][c] === "number");
        charts.push(chart(t("top_aspects"), nums.slice(0, 2).map((c) => ({ type: "bar", name: c, orientation: "h", y: aspects.map((r) => r[label]), x: aspects.map((r) => r[c]) })), { yaxis: { autorange: "reversed", automargin: true }, barmode: "group" }));
      }
      page.append(el("div", { class: "grid" }, ...charts));
      const quotes = (ins.complaints || []).map((c) => el("div", { class: "complaint" }, el("strong", {}, fmt(c.aspect ?? c.label ?? "")),
        " · ", fmt(c.product ?? ""), " ", el("span", { class: "muted" }, fmt(c.negative ?? "") + " / " + fmt(c.mentions ?? "")),
        ...(c.quotes || [c.quote]).filter(Boolean).slice(0, 3).map((q) => el("blockquote", {}, q))));
      page.append(card(t("complaints"), quotes.length ? el("div", {}, ...quotes) : el("p", { class: "muted" }, t("no_rows"))));
    },
    async recs(page) {
      const customerInput = el("input", { id: "recs-customer", value: sessionStorage.getItem("shoplens.recs") || "" });
      const productInput = el("input", { id: "recs-product", value: sessionStorage.getItem("shoplens.product") || "" });
      const form = el("form", { class: "inline", id: "recs-form" }, el("label", {}, t("customer_id")), customerInput,
        el("label", {}, t("product_id")), productInput, el("button", { type: "submit" }, t("recommend")));
      const out = el("div", { id: "recs-out", class: "grid" });
      page.append(form, out);
      async function show(customer, product) {
        out.replaceChildren(el("p", { class: "muted" }, t("loading")));
        const parts = [];
        if (customer) {
          sessionStorage.setItem("shoplens.recs", customer);
          const r = await load("/recommendations/" + encodeURIComponent(customer) + "?n=10");
          if (failed(r)) parts.push(notice(r));
          else {
            parts.push(card(t("recommendations_for") + " · " + t("served_version") + " " + fmt(r.model_version ?? r.version ?? ""), table(r.data)));
            const items = r.data || [];
            if (items.length && typeof items[0].score === "number") parts.push(chart(t("recommendations_for"), [{ type: "bar", orientation: "h", y: items.map((i) => String(i.name || i.product_id)), x: items.map((i) => i.score) }], { yaxis: { autorange: "reversed", automargin: true } }));
          }
        }
        if (product) {
          sessionStorage.setItem("shoplens.product", product);
          const [sim, fbt] = await Promise.all([load("/products/" + encodeURIComponent(product) + "/similar?n=10"), load("/products/" + encodeURIComponent(product) + "/bought-together?n=10")]);
          parts.push(failed(sim) ? notice(sim) : card(t("similar_items"), table(sim.data)));
          parts.push(failed(fbt) ? notice(fbt) : card(t("bought_together"), table(fbt.data)));
        }
        out.replaceChildren(...parts);
      }
      form.addEventListener("submit", (e) => { e.preventDefault(); show(customerInput.value.trim(), productInput.value.trim()); });
      if (customerInput.value || productInput.value) await show(customerInput.value, productInput.value);
    },
    async behaviour(page) {
      // the counters first: without events the other three would only answer 409
      const live = await load("/events/live");
      const liveCard = failed(live) ? notice(live) : card(t("live_title"), table(live.windows.map((w) => ({
        [t("live_window")]: w.window, [t("live_events")]: w.events, [t("live_users")]: w.users,
        [t("live_by_type")]: Object.entries(w.by_type).map(([k, v]) => k + " " + v.toLocaleString()).join(", ") }))));
      if (!failed(live) && live.total_events === 0) {
        page.append(el("p", { class: "notice", id: "no-events" }, t("no_events")), liveCard);
        return;
      }
      const [fun, ret, ses] = await Promise.all([load("/events/funnel?steps=view,cart,purchase&window=1d"),
        load("/events/retention?periods=8"), load("/events/sessions")]);
      const charts = [];
      if (failed(fun)) charts.push(notice(fun));
      else {
        const s = fun.steps;
        charts.push(chart(t("funnel_title"), [{ type: "funnel", y: s.map((x) => x.event), x: s.map((x) => x.users),
          textinfo: "value+percent initial", marker: { color: "#2f6fde" } }], { yaxis: { automargin: true } }));
      }
      if (failed(ret)) charts.push(notice(ret));
      else {
        const cohorts = ret.cohorts;
        const weeks = Array.from({ length: ret.periods }, (_, i) => t("retention_week") + " " + i);
        charts.push(chart(t("retention_title"), [{ type: "heatmap", x: weeks, y: cohorts.map((c) => c.cohort + " (" + c.users + ")"),
          z: cohorts.map((c) => c.retention), zmin: 0, zmax: 1, colorscale: "Blues", reversescale: true, hoverongaps: false }],
          { yaxis: { autorange: "reversed", automargin: true, type: "category", title: { text: t("retention_cohort") } } }));
      }
      page.append(el("div", { class: "grid" }, ...charts));
      if (failed(ses)) page.append(notice(ses));
      else {
        const m = ses.summary, minutes = (v) => v == null ? "" : (v / 60).toFixed(1) + " min";
        const items = [["sessions", fmt(m.sessions)], ["events_per_session", fmt(m.events_per_session)],
          ["median_length", minutes(m.median_seconds)], ["bounce_rate", ((m.bounce_rate || 0) * 100).toFixed(1) + " %"]];
        page.append(card(t("sessions_title"), el("div", { class: "kpis", id: "session-kpis" }, ...items.map(([l, v]) =>
          el("div", { class: "kpi" }, el("div", { class: "label" }, t(l)), el("div", { class: "value" }, v))))));
      }
      page.append(liveCard);
    },
    async experiments(page) {
      const [exp, bandits] = await Promise.all([load("/experiments"), load("/bandits")]);
      if (failed(exp)) page.append(notice(exp)); else page.append(card(t("experiments_title"), table(exp.data)));
      if (failed(bandits)) { page.append(notice(bandits)); return; }
      const arms = bandits.data || [];
      if (arms.length) {
        const label = (a) => String(a.policy ? a.policy + ":" + a.arm : a.arm ?? a.action);
        const y = Object.keys(arms[0]).find((c) => /mean|rate|reward/i.test(c) && typeof arms[0][c] === "number");
        if (y) page.append(chart(t("bandits_title") + " (" + y + ")", [{ type: "bar", x: arms.map(label), y: arms.map((a) => a[y]) }]));
      }
      page.append(card(t("bandits_title"), table(arms)));
    },
    async quality(page) {
      const q = await api("/quality");
      const byTable = q.quarantine_by_table;
      page.append(el("div", { class: "grid" },
        chart(t("quarantine_by_table"), [{ type: "bar", x: byTable.map((r) => r.table), y: byTable.map((r) => r.rows), marker: { color: "#c62828" } }]),
        card(t("quarantine_reasons"), table(q.quarantine_reasons))));
      const drift = q.drift && q.drift.checks;
      if (drift && drift.length) {
        const colors = drift.map((d) => d.status === "significant" ? "#c62828" : d.status === "moderate" ? "#f9a825" : "#2e7d32");
        page.append(el("div", { class: "grid" },
          chart(t("drift"), [{ type: "bar", x: drift.map((d) => d.feature), y: drift.map((d) => d.psi), marker: { color: colors } }],
            { shapes: [0.1, 0.25].map((y) => ({ type: "line", xref: "paper", x0: 0, x1: 1, y0: y, y1: y, line: { dash: "dot", color: "#999" } })) }),
          card(t("drift") + " · " + fmt(q.drift.computed_at), table(drift, ["feature", "kind", "psi", "status", "reference_n", "current_n"]))));
      } else page.append(el("p", { class: "notice" }, t("drift_none")));
      page.append(card(t("ingest_runs"), table(q.ingest_runs)));
    },
  };

  function applyI18n() {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    document.querySelectorAll("[data-i18n]").forEach((n) => { n.textContent = t(n.dataset.i18n); });
    $("#nav").replaceChildren(...PAGES.map((p) => el("a", { href: "#" + p, id: "nav-" + p }, t(p))));
  }

  function logout() { sessionStorage.removeItem("shoplens.key"); route(); }

  async function route() {
    const name = (location.hash || "#overview").slice(1);
    const current = PAGES.includes(name) ? name : "overview";
    document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.id === "nav-" + current));
    const loggedIn = !!key();
    $("#login").hidden = loggedIn; $("#page").hidden = !loggedIn; $("#logout").hidden = !loggedIn;
    if (!loggedIn) return;
    const page = $("#page");
    page.replaceChildren(el("h1", {}, t(current)), el("p", { class: "muted" }, t("loading")));
    page.dataset.state = "loading";
    try {
      const body = el("div", {});
      await render[current](body);
      page.replaceChildren(el("h1", {}, t(current)), body);
    } catch (e) {
      page.replaceChildren(el("h1", {}, t(current)), e instanceof ApiError ? notice(e) : el("p", { class: "error" }, String(e)));
      if (!(e instanceof ApiError)) console.error(e);
    }
    page.dataset.state = "ready";
    page.dataset.page = current;
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("#lang").value = lang;
    $("#lang").addEventListener("change", (e) => { lang = e.target.value; localStorage.setItem("shoplens.lang", lang); applyI18n(); route(); });
    $("#logout").addEventListener("click", logout);
    $("#login-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      sessionStorage.setItem("shoplens.key", $("#api-key").value.trim());
      const res = await fetch("/api/v1/status", { headers: { Authorization: "Bearer " + key() } });
      if (!res.ok) { sessionStorage.removeItem("shoplens.key"); $("#login-error").textContent = t("login_failed") + " (" + res.status + ")"; return; }
      $("#login-error").textContent = ""; route();
    });
    window.addEventListener("hashchange", route);
    applyI18n();
    route();
  });
})();

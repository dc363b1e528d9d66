// shoplens dashboard: a small single-page app over the REST API (no build step, no CDN).
"use strict";
(function () {
  const PAGES = ["overview", "segments", "customer", "reviews", "recs", "rules", "behaviour", "campaigns", "experiments", "quality",
    "alerts"];
  const DETAIL_PAGES = ["product", "category"];  // reached by drill-down (#product/ID, #category/NAME), not in the menu
  const I18N = window.SHOPLENS_I18N;
  let lang = localStorage.getItem("shoplens.lang") || (navigator.language || "en").slice(0, 2);
  if (!I18N[lang]) lang = "en";
  const t = (k) => (I18N[lang][k] || I18N.en[k] || k);
  const $ = (sel) => document.querySelector(sel);
  const key = () => sessionStorage.getItem("shoplens.key");
  const F = window.SHOPLENS_FORMAT;
  let currency = null;  // the shop's currency (from /overview or /summary): money is labelled with it

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

  // one value for people (shoplens/formatting.py's rules: counts as integers, money with its currency,
  // shares as percentages, times without seconds); `column` says what the value is
  function fmt(v, column) {
    if (v == null) return "";
    if (typeof v === "object" && !Array.isArray(v)) return F.cell(v, column || "", lang, currency);
    return F.cell(v, column || "", lang, currency);
  }
  const header = (c) => F.header(c, lang);
  // a metric's definition in one sentence (shoplens.metrics, served in /assets/labels.js): the tooltip
  const tip = (k) => ((window.SHOPLENS_METRICS || {})[lang] || {})[k] || "";
  // links of the drill-downs: #page/argument
  const href = (page, arg) => "#" + page + (arg == null || arg === "" ? "" : "/" + encodeURIComponent(String(arg)));
  const link = (page, arg, text) => el("a", { href: href(page, arg), class: "drill" }, text);
  // cells that lead to their detail: a product's name, a category, a customer id
  const DRILL = {
    name: (r) => (r.product_id != null ? href("product", r.product_id) : null),
    product_id: (r) => href("product", r.product_id),
    category: (r) => (r.category ? href("category", r.category) : null),
    customer_id: (r) => href("customer", r.customer_id),
    segment_name: (r) => (r.segment_id != null ? href("segments", r.segment_id) : null),
    // a side of several products ("A + B") leads to the first one's page
    antecedent_name: (r) => (r.antecedent ? href("product", String(r.antecedent).split(" + ")[0]) : null),
    consequent_name: (r) => (r.consequent ? href("product", String(r.consequent).split(" + ")[0]) : null),
    rule_id: (r) => (r.rule_id ? href("rules", r.rule_id) : null),
  };

  // A table with human headers; a product id column beside a name becomes the name's hover text.
  function table(rows, columns, empty) {
    if (!rows || !rows.length) return el("p", { class: "muted empty" }, empty || t("no_rows"));
    let cols = columns || Object.keys(rows[0]);
    const hoverId = cols.includes("name") && cols.includes("product_id") && !columns;
    if (hoverId) cols = cols.filter((c) => c !== "product_id");
    // a metric's header explains it (its definition), other headers show the field's name on hover
    const head = el("tr", {}, ...cols.map((c) => el("th", tip(c) ? { title: tip(c), class: "has-tip", "data-metric": c } : { title: c }, header(c))));
    const value = (r, c) => (c === "value" && r.field ? fmt(r[c], r.field) : fmt(r[c], c));
    const cell = (r, c) => {
      const to = DRILL[c] && r[c] != null && r[c] !== "" ? DRILL[c](r) : null;
      return to ? el("a", { href: to, class: "drill" }, value(r, c)) : value(r, c);
    };
    // a name's id on hover: a product's, or each side's of a cross-sell rule
    const hover = (r, c) => (hoverId && c === "name" ? { title: "id " + r.product_id }
      : c === "antecedent_name" || c === "consequent_name" ? { title: "id " + r[c.replace("_name", "")] } : {});
    const body = rows.map((r) => el("tr", {}, ...cols.map((c) => el("td", Object.assign(
      { class: typeof r[c] === "number" ? "num" : "" }, hover(r, c)), cell(r, c)))));
    return el("table", {}, el("thead", {}, head), el("tbody", {}, ...body));
  }

  function card(title, content, hint) {
    return el("div", { class: "card" }, el("h2", hint ? { title: hint, class: "has-tip" } : {}, title), content);
  }

  // A chart; with no data, a sentence instead of bare axes. At most 8 colours: callers group the rest
  // as "other" (F.topWithOther). No floating toolbar over bars and legends.
  // `opts.metric`: the field the chart shows (its definition is the title's tooltip); `opts.drill(point)`:
  // where a click on a bar leads (a hash), the bars then show a pointer.
  function chart(title, traces, layout, empty, opts) {
    const o = opts || {};
    const hasData = traces.some((tr) => (tr.x || tr.y || tr.values || []).length > 0);
    if (!hasData) return card(title, el("p", { class: "muted empty" }, empty || t("no_rows")), tip(o.metric));
    const div = el("div", { class: o.drill ? "chart drillable" : "chart" });
    const c = card(title, div, tip(o.metric));
    if (o.metric) c.dataset.metric = o.metric;
    requestAnimationFrame(() => Plotly.newPlot(div, traces, Object.assign({ margin: { l: 60, r: 20, t: 10, b: 80 }, height: 320,
      separators: lang === "zh" ? ".," : ".,", xaxis: { automargin: true }, yaxis: { automargin: true } }, layout || {}),
      { displaylogo: false, responsive: true, displayModeBar: false }).then(() => {
      if (o.drill) div.on("plotly_click", (ev) => { const to = ev.points && ev.points.length && o.drill(ev.points[0]); if (to) location.hash = to; });
    }));
    return c;
  }


  const moneyUnit = () => (currency ? " (" + currency + ")" : "");
  function nothingQuarantined(q) {
    const first = (q.ingest_runs || []).map((r) => r.started_at || r.finished_at).filter(Boolean).sort()[0];
    return first ? t("nothing_quarantined_since").replace("{when}", F.when(first)) : t("nothing_quarantined");
  }

  // What changed, why, what to do (GET /summary: the same as `shoplens summary` and the report's top).
  function summaryCards(s) {
    const box = el("div", { id: "summary", class: "summary" }, el("p", { class: "period" }, s.period_text));
    if (!s.changes.length) { box.append(el("p", { class: "muted empty" }, t("no_orders"))); return box; }
    currency = s.currency || currency;
    // green for good news: more revenue, customers, orders; fewer complaints
    const good = (c) => (c.metric === "complaints" ? -1 : 1) * (c.change || 0);
    const changed = el("ul", {}, ...s.changes.map((c) => el("li", { class: good(c) > 0 ? "up" : good(c) < 0 ? "down" : "" },
      el("strong", tip(c.metric) ? { title: tip(c.metric), class: "has-tip", "data-metric": c.metric } : {}, c.label), " ", c.text)));
    const changeChart = chart(s.headings.what + " (%)", [{ type: "bar", x: s.changes.map((c) => c.label),
      y: s.changes.map((c) => (c.change == null ? 0 : Math.round(c.change * 1000) / 10)),
      marker: { color: s.changes.map((c) => (good(c) >= 0 ? "#2e7d32" : "#c62828")) } }], { height: 220, margin: { l: 50, r: 10, t: 10, b: 40 } });
    const moves = s.why.filter((x) => x.kind !== "aspect");
    // a product, category or segment that moved revenue leads to its detail
    const whyHref = (x) => (x.kind === "product" ? href("product", x.key) : x.kind === "category" ? href("category", x.key)
      : x.kind === "segment" ? href("segments", x.key) : null);
    const why = el("ul", {}, ...(s.why.length ? s.why.map((x) => el("li", { title: x.key },
      whyHref(x) ? el("a", { href: whyHref(x), class: "drill" }, x.text) : x.text)) : [el("li", {}, t("no_why"))]));
    const whyChart = chart(s.headings.why + moneyUnit(), [{ type: "bar", orientation: "h", y: moves.map((x) => x.name), x: moves.map((x) => x.change),
      marker: { color: moves.map((x) => (x.change >= 0 ? "#2e7d32" : "#c62828")) } }], { height: 220, yaxis: { autorange: "reversed", automargin: true }, margin: { l: 10, r: 10, t: 10, b: 40 } }, t("no_why"),
      { metric: "revenue", drill: (pt) => whyHref(moves[pt.pointIndex]) });
    // an action about one product (reorder advice) leads to its page
    const todo = s.actions.length ? el("ol", {}, ...s.actions.map((a) => el("li", {},
      a.kind === "reorder" && a.key ? el("a", { href: href("product", a.key), class: "drill" }, a.text) : a.text,
      a.command ? el("code", { title: t("run_it") }, " " + a.command) : "")))
      : el("p", { class: "muted empty" }, t("no_actions"));
    box.append(el("div", { class: "grid three" },
      card(s.headings.what, el("div", {}, changed, changeChart)),
      card(s.headings.why, el("div", {}, why, whyChart)),
      card(s.headings.todo, todo)));
    return box;
  }


  // Customer 360 as one profile: who, value, risk and why, what they bought, what we recommend, consent.
  async function profileView(prof) {
    const p = prof.profile || {}, buy = prof.purchases || {};
    currency = buy.currency || currency;
    // [label, value, metric?]: a metric's label explains it on hover
    const facts = (pairs) => el("dl", { class: "facts" }, ...pairs.filter(([, v]) => v !== "" && v != null)
      .flatMap(([k, v, m]) => [el("dt", tip(m) ? { title: tip(m), class: "has-tip", "data-metric": m } : {}, k), el("dd", {}, v)]));
    const whoPairs = [[t("customer_id"), prof.customer_id]];
    for (const [k, v] of Object.entries(p)) if (k !== "customer_id" && v != null && typeof v !== "object") whoPairs.push([header(k), fmt(v, k)]);
    // the shop's own customer attributes (demographics, tiers...), named as its file named them
    for (const [k, v] of Object.entries(prof.attributes || {})) if (v != null) whoPairs.push([k.replace(/_/g, " "), String(v)]);
    whoPairs.push([t("consent"), prof.personalization_allowed ? t("consent_yes") : t("consent_no")]);
    const seg = prof.segment || {}, rfm = prof.rfm || {}, clv = prof.clv || {}, churn = prof.churn || {};
    const value = facts([[header("orders"), F.count(buy.orders, lang), "orders"], [header("net_revenue"), F.money(buy.net_revenue, currency, lang), "net_revenue"],
      [header("first_order_at"), F.when(buy.first_order_at)], [header("last_order_at"), F.when(buy.last_order_at)],
      [t("days_since_last"), rfm.recency_days == null ? "" : F.count(rfm.recency_days, lang) + " " + t("days_unit")],
      [header("segment"), (lang === "zh" && seg.segment_name_zh) || seg.segment_name || ""], [t("rfm_segment"), (lang === "zh" ? rfm.segment_zh : rfm.segment) || rfm.segment || ""],
      [header("clv"), clv.clv == null ? "" : F.money(clv.clv, currency, lang), "clv"],
      [header("p_alive"), clv.p_alive == null ? "" : F.percent(clv.p_alive, lang), "p_alive"]]);
    const risk = churn.churn_risk == null ? el("p", { class: "muted empty" }, prof.note || t("no_risk"))
      : el("div", {}, el("p", {}, el("strong", { title: tip("churn_risk"), class: "has-tip", "data-metric": "churn_risk" }, F.percent(churn.churn_risk, lang)), " · " + (t("band_" + churn.risk_band) || churn.risk_band || "")),
        el("ul", {}, ...String((lang === "zh" && churn.reasons_zh) || churn.reasons || "").split(/[;；]/).filter((r) => r.trim()).map((r) => el("li", {}, r.trim()))));
    const months = prof.orders_by_month || [];
    const parts = [card(t("who"), facts(whoPairs)), card(t("value"), value), card(t("risk_why"), risk),
      chart(t("what_bought") + moneyUnit(), [{ type: "bar", x: months.map((r) => r.month), y: months.map((r) => r.revenue) }], {}, t("no_orders_customer"))];
    if (prof.personalization_allowed) {
      const recs = await load("/recommendations/" + encodeURIComponent(prof.customer_id) + "?n=5");
      parts.push(card(t("we_recommend"), failed(recs) ? notice(recs) : table((recs.data || []).map((r) => ({ name: r.name || r.product_id, product_id: r.product_id, reason: r.reason || r.reasons || "" }))
        .map((r) => (r.reason ? r : { name: r.name, product_id: r.product_id })), null, t("no_recs"))));
    }
    return el("div", { class: "grid profile" }, ...parts);
  }

  // One segment's members (GET /segments/{id}/members: analysts; customers who consent to personalisation),
  // each id leading to the customer's profile.
  async function segmentMembers(seg, name) {
    const res = await load("/segments/" + encodeURIComponent(seg.segment_id) + "/members?limit=50");
    const title = t("segment_members");  // the name (the shop's data, in one language) below the title
    if (failed(res)) return el("div", { id: "segment-members" }, card(title, el("div", {}, el("p", { class: "segment-name" }, name), notice(res))));
    const rows = res.data.map((m) => Object.assign({ customer_id: m.customer_id }, m));
    const more = res.count > rows.length ? el("p", { class: "muted" }, t("segment_members_more")
      .replace("{shown}", F.count(rows.length, lang)).replace("{count}", F.count(res.count, lang))) : "";
    return el("div", { id: "segment-members" }, card(title, el("div", {}, el("p", { class: "segment-name" }, name),
      table(rows, null, t("segment_no_members")), more)));
  }

  // A product's page: its sales by the shop's metrics, revenue by month, its reviews, similar items.
  async function productPage(page, id) {
    const [p, sim, fbt] = await Promise.all([load("/products/" + encodeURIComponent(id)),
      load("/products/" + encodeURIComponent(id) + "/similar?n=5"), load("/products/" + encodeURIComponent(id) + "/bought-together?n=5")]);
    if (failed(p)) { page.append(notice(p)); return; }
    currency = p.currency || currency;
    const s = p.sales;
    page.append(el("h2", { id: "product-name", title: "id " + p.product_id }, p.name || p.product_id),
      el("p", { class: "muted" }, header("category") + ": ", p.category ? link("category", p.category, p.category) : "",
        " · " + header("product_id") + " " + p.product_id + " · " + t("computed_at") + " " + F.when(p.computed_at)));
    const items = [["revenue", F.money(s.revenue, currency, lang)], ["units", F.count(s.units, lang)],
      ["orders", F.count(s.orders, lang)], ["customers", F.count(s.customers, lang)]];
    page.append(el("div", { class: "kpis", id: "product-kpis" }, ...items.map(([l, v]) => el("div",
      Object.assign({ class: "kpi" }, tip(l) ? { title: tip(l), "data-metric": l } : {}),
      el("div", { class: tip(l) ? "label has-tip" : "label" }, header(l)), el("div", { class: "value" }, v)))));
    const months = p.revenue_by_month || [];
    const r = p.reviews;
    const said = r.reviews ? el("div", {},
      el("p", {}, t("product_reviews_counts").replace("{n}", F.count(r.reviews, lang)).replace("{neg}", F.count(r.negative || 0, lang))
        .replace("{pos}", F.count(r.positive || 0, lang)) + (r.average_rating == null ? "" : " · " + t("average_rating") + " " + F.number(r.average_rating, lang, 1))),
      ...r.quotes.map((q) => el("blockquote", { class: q.sentiment === "negative" ? "negative" : "" }, q.text)),
      r.demo_links ? el("p", { class: "muted demo-links" }, t("review_links_note")) : "")
      : el("p", { class: "muted empty" }, t("product_no_reviews"));
    page.append(el("div", { class: "grid" },
      chart(t("revenue_by_month") + moneyUnit(), [{ type: "bar", x: months.map((m) => m.month), y: months.map((m) => m.revenue) }], {}, t("no_orders"), { metric: "revenue" }),
      el("div", { id: "product-reviews" }, card(t("product_reviews"), said))));
    const items2 = (x) => (x.data || []).map((i) => ({ name: i.name || i.product_id, product_id: i.product_id }));
    page.append(el("div", { class: "grid" },
      card(t("similar_items"), failed(sim) ? notice(sim) : table(items2(sim), null, t("no_rows"))),
      card(t("bought_together"), failed(fbt) ? notice(fbt) : table(items2(fbt), null, t("no_rows")))));
  }

  // A category's products, most net revenue first; each leads to its page.
  async function categoryPage(page, name) {
    const c = await load("/categories/" + encodeURIComponent(name) + "/products?n=20");
    if (failed(c)) { page.append(notice(c)); return; }
    currency = c.currency || currency;
    const rows = c.data, top = rows.slice(0, 10);  // the chart: the ten largest, readable labels
    page.append(el("h2", { id: "category-name" }, c.category),
      el("p", { class: "muted" }, t("category_products").replace("{n}", F.count(c.products, lang)) + " · " + t("computed_at") + " " + F.when(c.computed_at)),
      chart(t("top_products") + moneyUnit(), [{ type: "bar", orientation: "h", y: top.map((r) => r.name || r.product_id), x: top.map((r) => r.revenue) }],
        { yaxis: { autorange: "reversed", automargin: true } }, t("no_orders"), { metric: "revenue", drill: (pt) => href("product", top[pt.pointIndex].product_id) }),
      card(t("top_products"), table(rows, ["name", "revenue", "units", "orders", "customers"])));
  }

  // The customers a rule tags today (GET /rules/{id}/members: analysts; customers who consent to
  // personalisation), each id leading to the profile; the rule and its evidence in words above them.
  async function ruleMembers(rule) {
    const res = await load("/rules/" + encodeURIComponent(rule.rule_id) + "/members?limit=50");
    const head = [el("p", { class: "rule-text" }, el("strong", {}, rule.rule_id + " · " + rule.rule)), el("p", {}, rule.explanation || "")];
    if (failed(res)) return el("div", { id: "rule-members" }, card(t("rule_members"), el("div", {}, ...head, notice(res))));
    const more = res.count > res.data.length ? el("p", { class: "muted" }, t("rule_members_more")
      .replace("{shown}", F.count(res.data.length, lang)).replace("{count}", F.count(res.count, lang))) : "";
    return el("div", { id: "rule-members" }, card(t("rule_members"), el("div", {}, ...head,
      table(res.data, null, t("rule_no_members")), more)));
  }

  // Rules: the generated customer rules (a bar per rule, its lift on the later window; a click opens the
  // customers it tags: #rules/R01) and the strongest cross-sell rules (bars named by the products, ids on
  // hover; a click opens the first product's page).
  async function rulesPage(page, arg) {
    const [cr, xs] = await Promise.all([load("/rules?lang=" + lang), load("/rules/cross-sell?n=15")]);
    const parts = [];
    if (failed(cr)) parts.push(cr.status === 409 ? el("p", { class: "notice" }, t("rules_customer_none")) : notice(cr));
    else {
      const rules = cr.data;
      currency = cr.currency || currency;  // the members' CLV is money
      parts.push(chart(t("rules_customer_chart"), [{ type: "bar", orientation: "h",
        y: rules.map((r) => r.rule_id + " · " + r.condition), x: rules.map((r) => r.lift_later),
        hovertext: rules.map((r) => r.rule), hoverinfo: "text+x",
        marker: { color: rules.map((r) => (r.validated ? "#2e7d32" : "#9e9e9e")) } }],
        { yaxis: { autorange: "reversed", automargin: true }, height: Math.max(240, 28 * rules.length + 80) },
        t("rules_customer_none"), { metric: "lift_later", drill: (pt) => href("rules", rules[pt.pointIndex].rule_id) }));
      const chosen = arg ? rules.find((r) => r.rule_id === arg) : null;
      if (chosen) parts.push(await ruleMembers(chosen));
      else if (arg) parts.push(el("p", { class: "notice" }, t("rule_unknown") + ": " + arg));
      parts.push(card(t("rules_customer") + " · " + t("computed_at") + " " + F.when(cr.computed_at),
        table(rules, ["rule_id", "condition", "action", "customers", "lift_mining", "lift_later", "validated"], t("rules_customer_none"))));
    }
    if (failed(xs)) parts.push(xs.status === 409 ? el("p", { class: "notice" }, t("rules_cross_none")) : notice(xs));
    else {
      const pairs = xs.data;
      parts.push(chart(t("rules_cross_chart"), [{ type: "bar", orientation: "h", marker: { color: "#2f6fde" },
        y: pairs.map((p) => p.antecedent_name + " → " + p.consequent_name), x: pairs.map((p) => p.lift),
        hovertext: pairs.map((p) => "id " + p.antecedent + " → " + p.consequent), hoverinfo: "text+x" }],
        { yaxis: { autorange: "reversed", automargin: true }, height: Math.max(240, 24 * pairs.length + 80) },
        t("rules_cross_none"), { metric: "lift", drill: (pt) => href("product", String(pairs[pt.pointIndex].antecedent).split(" + ")[0]) }));
      parts.push(card(t("rules_cross") + " · " + t("computed_at") + " " + F.when(xs.computed_at),
        table(pairs, ["antecedent_name", "consequent_name", "confidence", "lift", "baskets"], t("rules_cross_none"))));
    }
    page.append(el("p", { class: "muted hint" }, t("rules_drill_hint")), ...parts);
  }

  // A result not computed (409) or not found (404) is a notice; in Chinese it says so in Chinese with the
  // command that computes it (the API's English words stay on hover); anything else is an error.
  function notice(err) {
    const known = err.status === 409 || err.status === 404;
    if (!known) return el("p", { class: "error" }, err.message);
    if (lang === "en") return el("p", { class: "notice" }, t("not_computed") + ": " + err.message);
    const cmd = (String(err.message).match(/`[^`]+`/) || [])[0];
    return el("p", { class: "notice", title: err.message },
      (err.status === 404 ? t("not_found") : t("not_computed")) + (cmd ? t("run_cmd").replace("{cmd}", cmd) : ""));
  }

  // Fetch several endpoints; a failing one becomes a notice instead of breaking the page.
  async function load(path) { try { return await api(path); } catch (e) { if (e.status === 401) throw e; return e; } }
  const failed = (x) => x instanceof ApiError;

  const render = {
    product: productPage,
    category: categoryPage,
    rules: rulesPage,
    async overview(page) {
      const [ov, status, summary] = await Promise.all([api("/overview"), api("/status"), load("/summary?lang=" + lang)]);
      const k = ov.kpis;
      currency = k.currency || null;
      if (!failed(summary)) page.append(summaryCards(summary));
      const items = [["customers", F.count(k.customers, lang)], ["orders", F.count(k.orders, lang)],
        ["revenue", F.money(k.revenue || 0, currency, lang, 0)],
        ["average_order_value", F.money(k.average_order_value || 0, currency, lang)],
        ["repeat_purchase_rate", F.percent(k.repeat_purchase_rate || 0, lang)], ["cancellations", F.count(k.cancellations, lang)],
        ["period", String(k.first_order || "").slice(0, 10) + " … " + String(k.last_order || "").slice(0, 10)]];
      const kpi = ([l, v]) => el("div", Object.assign({ class: "kpi" }, tip(l) ? { title: tip(l), "data-metric": l } : {}),
        el("div", { class: tip(l) ? "label has-tip" : "label" }, t(l)), el("div", { class: "value" }, v));
      page.append(el("div", { class: "kpis", id: "kpis" }, ...items.map(kpi)));
      if (ov.computed_at) page.append(el("p", { class: "muted hint", id: "overview-computed" }, t("computed_at") + " " + F.when(ov.computed_at) + " UTC"));
      const rbm = ov.revenue_by_month, cats = ov.top_categories;
      page.append(el("div", { class: "grid" },
        chart(t("revenue_by_month") + moneyUnit(), [{ type: "bar", x: rbm.map((r) => r.month), y: rbm.map((r) => r.revenue), marker: { color: "#2f6fde" } }], {}, t("no_orders"), { metric: "revenue" }),
        chart(t("top_categories") + moneyUnit(), [{ type: "bar", orientation: "h", y: cats.map((r) => r.category), x: cats.map((r) => r.revenue) }], { yaxis: { autorange: "reversed", automargin: true } }, t("no_orders"),
          { metric: "revenue", drill: (pt) => href("category", cats[pt.pointIndex].category) })));
      page.append(el("p", { class: "muted hint" }, t("drill_hint")));
      page.append(card(t("top_products"), table(ov.top_products, null, t("no_orders"))));
      page.append(el("div", { class: "grid" }, card(t("freshness"), table(status.computed)), card(t("models"), table(status.models))));
    },
    // Segments; a click on a segment (bar or name) opens its members (#segments/ID), each linked to its profile.
    async segments(page, arg) {
      const seg = await load("/segments?limit=100");
      if (failed(seg)) { page.append(notice(seg)); return; }
      // the segment's name, description and traits in the chosen language (the _zh ones in Chinese), one column each
      const rows = seg.data.map(({ segment_name_zh: zh, description_zh: described, traits_zh: traits, ...r }) => {
        if (lang !== "zh") return r;
        if (zh) Object.assign(r, { segment_name: zh, segment_name_en: r.segment_name });
        if (described) Object.assign(r, { description: described });
        if (traits) Object.assign(r, { traits: traits });
        return r;
      });
      const name = (r) => String(r.segment_name ?? r.segment ?? r.name ?? r.segment_id);
      const size = (r) => r.customers ?? r.size ?? r.n_customers;
      const value = Object.keys(rows[0] || {}).find((c) => /clv|value/i.test(c) && typeof rows[0][c] === "number");
      const drill = { drill: (pt) => href("segments", rows[pt.pointIndex].segment_id) };
      const charts = [chart(t("segment_sizes"), [{ type: "bar", x: rows.map(name), y: rows.map(size) }], {}, null, Object.assign({ metric: "customers" }, drill))];
      if (value) charts.push(chart(t("segment_value") + " · " + header(value), [{ type: "bar", x: rows.map(name), y: rows.map((r) => r[value]), marker: { color: "#16a085" } }], {}, null, Object.assign({ metric: value }, drill)));
      const segTable = table(rows.map(({ segment_name_en: _, ...r }) => r));  // a segment's name leads to its members (DRILL.segment_name)
      page.append(el("div", { class: "grid" }, ...charts), el("p", { class: "muted hint" }, t("segment_drill_hint")));
      const chosen = arg == null || arg === "" ? null : rows.find((r) => String(r.segment_id) === arg || name(r) === arg || r.segment_name_en === arg);
      if (chosen) page.append(await segmentMembers(chosen, name(chosen)));
      else if (arg) page.append(el("p", { class: "notice" }, t("segment_unknown") + ": " + arg));
      page.append(card(t("segment_table"), segTable));
    },
    async customer(page, arg) {
      const input = el("input", { id: "customer-id", required: "", value: arg || sessionStorage.getItem("shoplens.customer") || "" });
      const form = el("form", { class: "inline", id: "customer-form" }, el("label", {}, t("customer_id")), input, el("button", { type: "submit" }, t("look_up")));
      const out = el("div", { id: "customer-out" });
      page.append(form, el("p", { class: "muted" }, t("masked_note")), out);
      async function show(id) {
        out.replaceChildren(el("p", { class: "muted" }, t("loading")));
        const prof = await load("/customers/" + encodeURIComponent(id));
        if (failed(prof)) { out.replaceChildren(notice(prof)); return; }
        sessionStorage.setItem("shoplens.customer", id);
        out.replaceChildren(await profileView(prof));
      }
      form.addEventListener("submit", (e) => { e.preventDefault(); show(input.value.trim()); });
      if (input.value) await show(input.value.trim());
    },
    async reviews(page) {
      const ins = await load("/reviews/insights");
      if (failed(ins)) { page.append(notice(ins)); return; }
      const trend = ins.sentiment_by_month || [], aspects = ins.aspects || [];
      const charts = [];
      if (trend.length) {
        const cols = Object.keys(trend[0]).filter((c) => /share|score/.test(c) && typeof trend[0][c] === "number");
        charts.push(chart(t("sentiment_trend"), cols.slice(0, F.MAX_COLOURS).map((c) => ({ type: "scatter", mode: "lines+markers", name: header(c), x: trend.map((r) => r.month), y: trend.map((r) => r[c]) }))));
      }
      if (aspects.length) {
        const label = Object.keys(aspects[0]).find((c) => typeof aspects[0][c] === "string");
        const nums = Object.keys(aspects[0]).filter((c) => typeof aspects[0][c] === "number");
        charts.push(chart(t("top_aspects"), nums.slice(0, 2).map((c) => ({ type: "bar", name: header(c), orientation: "h", y: aspects.map((r) => r[label]), x: aspects.map((r) => r[c]) })), { yaxis: { autorange: "reversed", automargin: true }, barmode: "group" }));
      }
      if (!charts.length) charts.push(card(t("sentiment_trend"), el("p", { class: "muted empty" }, t("no_reviews"))));
      page.append(el("div", { class: "grid" }, ...charts));
      const quotes = (ins.complaints || []).map((c) => el("div", { class: "complaint" }, el("strong", {}, fmt(c.aspect ?? c.label ?? "")),
        " · ", c.product_id != null ? link("product", c.product_id, fmt(c.product ?? c.product_id)) : fmt(c.product ?? ""), " ", el("span", { class: "muted" }, fmt(c.negative ?? "") + " / " + fmt(c.mentions ?? "")),
        ...(c.quotes || [c.quote]).filter(Boolean).slice(0, 3).map((q) => el("blockquote", {}, q))));
      page.append(card(t("complaints"), quotes.length ? el("div", {}, ...quotes) : el("p", { class: "muted empty" }, t("no_complaints"))));
      if (ins.demo_links) page.append(el("p", { class: "notice demo-links" }, t("review_links_note")));
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
      // the same funnel broken down: each group's conversion from step 1 (groups add up to the total)
      const byPick = el("select", { id: "funnel-by" }, ...["", "channel", "category", "event_name", "segment"].map((v) =>
        el("option", { value: v }, v ? t("by_" + v) : t("by_none"))));
      byPick.value = sessionStorage.getItem("shoplens.funnel_by") || "";
      const byOut = el("div", { id: "funnel-breakdown" });
      async function breakdown(by) {
        sessionStorage.setItem("shoplens.funnel_by", by);
        if (!by) { byOut.replaceChildren(); return; }
        byOut.replaceChildren(el("p", { class: "muted" }, t("loading")));
        const r = await load("/events/funnel?steps=view,cart,purchase&window=1d&by=" + encodeURIComponent(by));
        if (failed(r)) { byOut.replaceChildren(notice(r)); return; }
        const groups = r.breakdown.slice(0, F.MAX_COLOURS);
        for (const g of r.breakdown) if (lang === "zh" && g.value_zh) g.value = g.value_zh;  // a segment's name in Chinese
        byOut.replaceChildren(
          chart(t("funnel_by_title") + " · " + t("by_" + by), groups.map((g) => ({ type: "bar", name: String(g.value),
            x: g.steps.map((x) => x.event), y: g.steps.map((x) => x.conversion) })), { barmode: "group", yaxis: { tickformat: ".0%", range: [0, 1] } }),
          table(r.breakdown.map((g) => Object.fromEntries([[t("by_" + by), g.value],
            ...g.steps.map((x) => [x.event + " (" + t("funnel_users") + ")", x.users]),
            [t("funnel_conversion"), g.steps[g.steps.length - 1].conversion == null ? "" : (g.steps[g.steps.length - 1].conversion * 100).toFixed(1) + " %"]]))));
      }
      byPick.addEventListener("change", () => { breakdown(byPick.value); });
      if (failed(ret)) charts.push(notice(ret));
      else {
        const cohorts = ret.cohorts;
        const weeks = Array.from({ length: ret.periods }, (_, i) => t("retention_week") + " " + i);
        charts.push(chart(t("retention_title"), [{ type: "heatmap", x: weeks, y: cohorts.map((c) => c.cohort + " (" + c.users + ")"),
          z: cohorts.map((c) => c.retention), zmin: 0, zmax: 1, colorscale: "Blues", reversescale: true, hoverongaps: false }],
          { yaxis: { autorange: "reversed", automargin: true, type: "category", title: { text: t("retention_cohort") } } }));
      }
      page.append(el("div", { class: "grid" }, ...charts));
      if (!failed(fun)) {
        page.append(card(t("funnel_by_title"), el("div", {}, el("form", { class: "inline", id: "funnel-by-form" }, el("label", {}, t("break_down_by")), byPick), byOut)));
        if (byPick.value) await breakdown(byPick.value);
      }
      if (failed(ses)) page.append(notice(ses));
      else {
        const m = ses.summary, minutes = (v) => v == null ? "" : F.number(v / 60, lang, 1) + " " + t("minutes_unit");
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
        // the mean reward (a rate), not the count of rewards (which grows with decisions)
        const numeric = Object.keys(arms[0]).filter((c) => typeof arms[0][c] === "number");
        const y = numeric.find((c) => /mean|rate/i.test(c)) || numeric.find((c) => /reward/i.test(c));
        if (y) page.append(chart(t("bandits_title") + " · " + header(y), [{ type: "bar", x: arms.map(label), y: arms.map((a) => a[y]) }], { xaxis: { automargin: true, tickangle: -30 } }));
      }
      page.append(card(t("bandits_title"), table(arms)));
    },
    async quality(page) {
      const q = await api("/quality");
      const byTable = q.quarantine_by_table;
      page.append(el("div", { class: "grid" },
        chart(t("quarantine_by_table"), [{ type: "bar", x: byTable.map((r) => r.table), y: byTable.map((r) => r.rows), marker: { color: "#c62828" } }], {}, nothingQuarantined(q)),
        card(t("quarantine_reasons"), table(q.quarantine_reasons, null, nothingQuarantined(q)))));
      const drift = q.drift && q.drift.checks;
      if (drift && drift.length) {
        const colors = drift.map((d) => d.status === "significant" ? "#c62828" : d.status === "moderate" ? "#f9a825" : "#2e7d32");
        page.append(el("div", { class: "grid" },
          chart(t("drift"), [{ type: "bar", x: drift.map((d) => d.feature), y: drift.map((d) => d.psi), marker: { color: colors } }],
            { shapes: [0.1, 0.25].map((y) => ({ type: "line", xref: "paper", x0: 0, x1: 1, y0: y, y1: y, line: { dash: "dot", color: "#999" } })) }, null, { metric: "psi" }),
          card(t("drift") + " · " + fmt(q.drift.computed_at), table(drift, ["feature", "kind", "psi", "status", "reference_n", "current_n"]))));
      } else page.append(el("p", { class: "notice" }, t("drift_none")));
      page.append(card(t("ingest_runs"), table(q.ingest_runs, null, t("no_ingest"))));
    },
    // Campaigns (GET /campaigns, /campaigns/{name}/report): the list, then one campaign's report with
    // its one-sentence verdict above the numbers, the effect of each offer with its 95 % interval, and
    // the sample-ratio check. The report is the same as `shoplens campaign report NAME --json`.
    async campaigns(page) {
      const list = await load("/campaigns?limit=100");
      if (failed(list)) { page.append(notice(list)); return; }
      if (!list.data.length) { page.append(el("p", { class: "notice", id: "campaigns-none" }, t("campaigns_none"))); return; }
      page.append(card(t("campaigns_list"), table(list.data, ["name", "status", "goal", "audience", "arms", "version"])));
      const pick = el("select", { id: "campaign-pick" }, ...list.data.map((c) => el("option", { value: c.name }, c.name)));
      const out = el("div", { id: "campaign-report" });
      page.append(el("form", { class: "inline" }, el("label", {}, t("campaign_pick") + " "), pick), out);
      async function show(name) {
        out.replaceChildren(el("p", { class: "muted" }, t("loading")));
        const r = await load("/campaigns/" + encodeURIComponent(name) + "/report");
        if (failed(r)) { out.replaceChildren(notice(r)); return; }
        if (r.currency) currency = r.currency;
        const goal = r.campaign.goal;
        const offers = r.arms.filter((a) => a.effect != null && a.metric === goal);
        const parts = [el("p", { class: "verdict", id: "campaign-verdict" }, (lang === "zh" ? r.conclusion.zh : r.conclusion.en) || "")];
        if (r.simulated) parts.push(el("p", { class: "notice" }, t("campaign_simulated")));
        parts.push(el("p", { class: r.srm.alarm ? "error" : "muted", id: "campaign-srm" },
          (r.srm.alarm ? t("campaign_srm_alarm") : t("campaign_srm_ok")) + " (p = " + fmt(r.srm.p_value, "p_value") + ")"));
        parts.push(el("div", { class: "grid" },
          chart(t("campaign_effects") + " · " + header(goal), [{
            type: "scatter", mode: "markers", x: offers.map((a) => a.arm), y: offers.map((a) => a.effect),
            error_y: { type: "data", symmetric: false, array: offers.map((a) => a.ci_high - a.effect),
              arrayminus: offers.map((a) => a.effect - a.ci_low) }, marker: { size: 12 } }],
            { shapes: [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: 0, y1: 0, line: { dash: "dot", color: "#999" } }] },
            t("campaign_no_offers")),
          card(t("campaign_arms"), table(r.arms, ["arm", "metric", "n", "mean", "effect", "ci_low", "ci_high", "p_value",
            "chance_to_win"]))));
        out.replaceChildren(...parts);
      }
      pick.addEventListener("change", () => { show(pick.value); });
      await show(pick.value);
    },
    // Alerts (GET /alerts): each finding in words, when it was computed, and its evidence on demand.
    async alerts(page) {
      const res = await load("/alerts?limit=100&lang=" + lang);
      if (failed(res)) { page.append(notice(res)); return; }
      if (!res.data.length) { page.append(el("p", { class: "notice", id: "alerts-none" }, t("alerts_none"))); return; }
      const when = (v) => String(v || "").slice(0, 16).replace("T", " ") + " UTC";
      // evidence values as left-aligned text, numbers to 6 significant digits (a long history stays readable)
      const round = (x) => (typeof x === "number" && !Number.isInteger(x) ? Number(x.toPrecision(6)) : x);
      const evidence = (v) => (v !== null && typeof v === "object" ? JSON.stringify(v, (k, x) => round(x)) : fmt(round(v)));
      page.append(el("div", { id: "alerts" }, ...res.data.map((a) => el("div", { class: "card alert alert-" + (a.severity || "info") },
        el("h2", {}, a.title || a.kind),
        el("p", {}, a.message || ""),
        el("p", { class: "muted" }, t("alert_computed") + " " + when(a.computed_at) + " · " + t("alert_" + a.kind) + " · "
          + t("alert_delivery") + ": " + ((lang === "zh" && a.delivery_zh) || a.delivery || "")),
        el("details", {}, el("summary", {}, t("alert_evidence")),
          table(Object.entries(a.evidence || {}).map(([k, v]) => ({ field: k, value: evidence(v) })), ["field", "value"]))))));
    },
  };

  function applyI18n() {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    document.querySelectorAll("[data-i18n]").forEach((n) => { n.textContent = t(n.dataset.i18n); });
    $("#nav").replaceChildren(...PAGES.map((p) => el("a", { href: "#" + p, id: "nav-" + p }, t(p))));
  }

  function logout() { sessionStorage.removeItem("shoplens.key"); route(); }

  async function route() {
    // #page or #page/argument (a drill-down: #segments/3, #product/85123A, #customer/12346)
    const [name, ...rest] = (location.hash || "#overview").slice(1).split("/");
    const arg = rest.length ? decodeURIComponent(rest.join("/")) : null;
    const current = PAGES.includes(name) || DETAIL_PAGES.includes(name) ? name : "overview";
    document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.id === "nav-" + current));
    const loggedIn = !!key();
    $("#login").hidden = loggedIn; $("#page").hidden = !loggedIn; $("#logout").hidden = !loggedIn;
    if (!loggedIn) return;
    const page = $("#page");
    page.replaceChildren(el("h1", {}, t(current)), el("p", { class: "muted" }, t("loading")));
    page.dataset.state = "loading";
    try {
      const body = el("div", {});
      await render[current](body, arg);
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

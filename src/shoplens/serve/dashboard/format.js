// Numbers, money, dates and column headers for people (en-GB / zh-CN), mirroring shoplens/formatting.py;
// the headers themselves come from it (/assets/labels.js), so the dashboard and the report agree.
"use strict";
(function () {
  const LOCALES = { en: "en-GB", zh: "zh-CN" };
  const MAX_COLOURS = 8;
  const ID_LIKE = /(_id|year|version|code)$|^(month|period)$/;
  const SHARE_LIKE = /share|rate|risk|p_alive|confidence|support/;
  const MONEY_LIKE = /revenue|clv|monetary|value|amount|aov|spend|price/;
  const locale = (lang) => LOCALES[lang] || LOCALES.en;
  const missing = (v) => v === null || v === undefined || (typeof v === "number" && Number.isNaN(v));

  function count(v, lang) { return missing(v) ? "" : Math.round(v).toLocaleString(locale(lang)); }
  function number(v, lang, digits) {
    if (missing(v)) return "";
    const d = digits == null ? (Math.abs(v) >= 1 ? 2 : 3) : digits;
    return v.toLocaleString(locale(lang), { maximumFractionDigits: d });
  }
  function money(v, currency, lang, digits) {
    if (missing(v)) return "";
    const d = digits == null ? 2 : digits;
    if (!currency || currency.includes("/")) return v.toLocaleString(locale(lang), { minimumFractionDigits: d, maximumFractionDigits: d });
    return v.toLocaleString(locale(lang), { style: "currency", currency, minimumFractionDigits: d, maximumFractionDigits: d });
  }
  function percent(v, lang, digits) {
    return missing(v) ? "" : v.toLocaleString(locale(lang), { style: "percent", maximumFractionDigits: digits == null ? 1 : digits });
  }
  // a date, or a time to the minute: never seconds' fractions
  function when(v) {
    if (missing(v)) return "";
    const s = String(v);
    const m = s.match(/^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})/);
    if (!m) return s;
    return m[2] === "00:00" && !/T00:00:0[1-9]| 00:00:0[1-9]/.test(s) ? m[1] : m[1] + " " + m[2];
  }
  function header(column, lang) {
    const H = window.SHOPLENS_HEADERS || {};
    const known = (H[lang] || {})[column] || (H.en || {})[column];
    if (known) return known;
    const base = String(column).startsWith("avg_") && ((H[lang] || {})[column.slice(4)]);
    if (base) return lang === "zh" ? "平均" + base : "Average " + base.charAt(0).toLowerCase() + base.slice(1);
    const words = String(column).replace(/_/g, " ").trim();
    return words.charAt(0).toUpperCase() + words.slice(1);
  }
  function kind(column) {
    const c = String(column).toLowerCase();
    if (ID_LIKE.test(c)) return "label";
    if (SHARE_LIKE.test(c) && !c.includes("count")) return "share";
    if (MONEY_LIKE.test(c)) return "money";
    return "number";
  }
  function cell(v, column, lang, currency) {
    if (missing(v)) return "";
    if (typeof v === "boolean") return lang === "zh" ? (v ? "是" : "否") : (v ? "yes" : "no");
    const k = kind(column || "");
    if (typeof v === "number") {
      if (k === "label") return String(v);
      if (k === "share" && v >= -1.5 && v <= 1.5) return percent(v, lang);
      if (k === "money") return money(v, currency, lang);
      return Number.isInteger(v) ? count(v, lang) : number(v, lang);
    }
    if (typeof v === "string" && /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/.test(v)) return when(v);
    if (Array.isArray(v)) return v.map((x) => cell(x, column, lang, currency)).join(", ");
    if (typeof v === "object") return Object.entries(v).map(([a, b]) => header(a, lang) + ": " + cell(b, a, lang, currency)).join("; ");
    return String(v);
  }
  // the n-1 largest (label, value) pairs and the rest summed as "other": a chart needs at most n colours
  function topWithOther(labels, values, other, n) {
    const max = n || MAX_COLOURS;
    const pairs = labels.map((l, i) => [l, values[i] || 0]).sort((a, b) => b[1] - a[1]);
    if (pairs.length <= max) return [pairs.map((p) => p[0]), pairs.map((p) => p[1])];
    const head = pairs.slice(0, max - 1), rest = pairs.slice(max - 1);
    return [[...head.map((p) => p[0]), other], [...head.map((p) => p[1]), rest.reduce((s, p) => s + p[1], 0)]];
  }
  window.SHOPLENS_FORMAT = { count, number, money, percent, when, header, cell, topWithOther, MAX_COLOURS };
})();

// Dashboard strings in English and Chinese; keys are used by app.js and data-i18n attributes.
window.SHOPLENS_I18N = {
  en: {
    overview: "Overview", segments: "Segments", customer: "Customer 360", reviews: "Reviews",
    recs: "Recommendations", experiments: "Experiments & bandits", quality: "Data quality",
    login_title: "Log in", login: "Log in", logout: "Log out",
    login_help: "Paste an API key (create one with `shoplens keys create --role viewer`).",
    login_failed: "This key was refused", loading: "Loading…", not_computed: "Not computed yet",
    customers: "customers", orders: "orders", revenue: "net revenue", average_order_value: "average order value",
    repeat_purchase_rate: "repeat-purchase rate", cancellations: "cancellations / returns", period: "period",
    revenue_by_month: "Net revenue by month", top_categories: "Revenue by category", top_products: "Top products",
    freshness: "Freshness: when each result was last computed", models: "Served models",
    segment_sizes: "Segment sizes", segment_value: "Average customer value by segment", segment_table: "Segments",
    customer_id: "Customer id", look_up: "Look up", profile: "Profile", masked_note: "Personal data is masked.",
    sentiment_trend: "Sentiment by month", top_aspects: "Top aspects", complaints: "Complaints with quotes",
    product_id: "Product id", recommend: "Recommend", recommendations_for: "Recommendations", similar_items: "Similar items",
    bought_together: "Frequently bought together",
    experiments_title: "Experiments", bandits_title: "Bandit arms", quarantine_by_table: "Quarantined rows by table",
    quarantine_reasons: "Quarantine reasons", ingest_runs: "Recent ingest runs", drift: "Drift (PSI; > 0.1 moderate, > 0.25 significant)",
    drift_none: "No drift check yet: run `shoplens drift`.", no_rows: "No rows.", served_version: "served version",
  },
  zh: {
    overview: "概览", segments: "客户分群", customer: "客户 360", reviews: "评论洞察",
    recs: "推荐", experiments: "实验与多臂老虎机", quality: "数据质量",
    login_title: "登录", login: "登录", logout: "退出",
    login_help: "粘贴 API 密钥（用 `shoplens keys create --role viewer` 创建）。",
    login_failed: "密钥被拒绝", loading: "加载中…", not_computed: "尚未计算",
    customers: "客户数", orders: "订单数", revenue: "净收入", average_order_value: "平均订单金额",
    repeat_purchase_rate: "复购率", cancellations: "取消/退货", period: "时间范围",
    revenue_by_month: "每月净收入", top_categories: "各品类收入", top_products: "热销商品",
    freshness: "数据新鲜度：各结果的最近计算时间", models: "在线模型",
    segment_sizes: "分群规模", segment_value: "各分群平均客户价值", segment_table: "分群",
    customer_id: "客户编号", look_up: "查询", profile: "客户档案", masked_note: "个人信息已脱敏。",
    sentiment_trend: "每月情感趋势", top_aspects: "主要方面", complaints: "投诉与原文摘录",
    product_id: "商品编号", recommend: "推荐", recommendations_for: "推荐结果", similar_items: "相似商品",
    bought_together: "经常一起购买",
    experiments_title: "实验", bandits_title: "老虎机臂", quarantine_by_table: "各表隔离行数",
    quarantine_reasons: "隔离原因", ingest_runs: "最近导入", drift: "漂移（PSI；> 0.1 中等，> 0.25 显著）",
    drift_none: "尚无漂移检查：运行 `shoplens drift`。", no_rows: "无数据。", served_version: "在线版本",
  },
};
// The alerts page (kept together here so the page stays one self-contained addition).
Object.assign(window.SHOPLENS_I18N.en, {
  alerts: "Alerts", alerts_none: "No alerts yet: `shoplens alerts check` (or the scheduled alerts job) evaluates the rules.",
  alert_computed: "found", alert_delivery: "webhook", alert_evidence: "Evidence",
  alert_emerging_complaint: "emerging complaint", alert_drift: "drift", alert_kpi_drop: "KPI drop",
  alert_campaign_verdict: "campaign verdict",
});
Object.assign(window.SHOPLENS_I18N.zh, {
  alerts: "告警", alerts_none: "暂无告警：运行 `shoplens alerts check`（或定时告警任务）评估规则。",
  alert_computed: "发现于", alert_delivery: "Webhook", alert_evidence: "证据",
  alert_emerging_complaint: "新兴投诉", alert_drift: "数据漂移", alert_kpi_drop: "指标下降",
  alert_campaign_verdict: "营销活动结论",
});

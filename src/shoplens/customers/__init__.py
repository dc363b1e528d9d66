"""Customer insight: RFM, behavioural segments, lifetime value, churn risk,
cohorts and patterns, the customer-360 profile and generated business rules.

Every function reads the canonical warehouse tables with set-based SQL, writes
its result to a ``customer_*`` table and returns it as a DataFrame. The CLI
(``shoplens customers ...``) and the demo step call these same functions.
"""

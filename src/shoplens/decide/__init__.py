"""Decisions: bandit policies with a decision log, off-policy evaluation and learning,
dynamic pricing and A/B test analysis.

- :mod:`shoplens.decide.policies`: epsilon-greedy, UCB1, Bernoulli TS, LinUCB, linear/logistic TS
  (``choose(context, actions) -> (action, propensity)``, ``update(context, action, reward)``);
- :mod:`shoplens.decide.log`: the ``decisions`` table, rewards joined by decision id, consent-aware decider;
- :mod:`shoplens.decide.ope`: DM, IPW, SNIPW, DR, SNDR, Switch-DR with bootstrap CIs and estimator selection;
- :mod:`shoplens.decide.opl`: learn a policy from logs (IPW / DR learners);
- :mod:`shoplens.decide.pricing`: price-grid Thompson sampling, guardrails, a calibrated simulator;
- :mod:`shoplens.decide.abtest`: assignment, t-tests, Bayesian, CUPED, SRM, sequential, corrections.
"""

"""Recommendations and cross-sell: interactions, models behind one interface, a learned hybrid,
temporal evaluation, serving with business filters, association rules.

>>> from shoplens.recs.models import MODELS
>>> sorted(MODELS)[:3]
['als', 'bpr', 'buy_again']
"""

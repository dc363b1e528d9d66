"""``shoplens demo``: the bundled shop through every capability, as a plain script of service calls.

:mod:`shoplens.demo.runner` builds a fresh warehouse and runs the steps in the order the
data flows (ingest, privacy, overview, text, customers, recs, decide, demand, monitor),
one module per capability here, then writes one HTML report. The demo sits on top, beside
the CLI and the API: it calls :mod:`shoplens.services` and the capabilities; nothing outside
this package imports it.
"""

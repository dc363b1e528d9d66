"""Behaviour events as shops already send them (Segment / RudderStack HTTP API): spec checks
(:mod:`~shoplens.stream.spec`), the durable log (:mod:`~shoplens.stream.log`), identity
stitching (:mod:`~shoplens.stream.identity`) and the collector that folds the log into the
warehouse through ingest (:mod:`~shoplens.stream.collector`). See docs/events.md."""

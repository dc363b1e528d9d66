"""Serving: the authenticated REST API under ``/api/v1`` and the dashboard, in one process.

>>> from shoplens.serve.keys import ROLES
>>> ROLES
('viewer', 'analyst', 'admin')
"""

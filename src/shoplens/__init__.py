"""shoplens: customer insight and decisions for e-commerce.

Data flows one way: sources -> ingest -> privacy -> warehouse -> models -> insights -> serving.

>>> import shoplens
>>> shoplens.__version__ >= "0.1"
True
"""

__version__ = "0.1.0"

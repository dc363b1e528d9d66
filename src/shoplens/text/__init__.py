"""Text insight for reviews and support messages, in Chinese and English.

Language detection and normalisation (:mod:`.normalize`), sentiment
(:mod:`.sentiment`), aspect-based sentiment (:mod:`.aspects`), support intent
(:mod:`.intent`), entities (:mod:`.entities`), product category and topics
(:mod:`.topics`); :mod:`.analyze` scores the warehouse, :mod:`.insights` answers
questions about the results. Default models ship in ``shoplens/text/models``
and are rebuilt by ``scripts/train_text_models.py``.

>>> from shoplens.text.normalize import detect_language
>>> detect_language("物流很快，质量不错")
'zh'
"""

"""Catalogue scale: analyse millions of tracks on a Ray cluster into Parquet
(:mod:`engine.catalogue.batch`), and bring the results into a desktop library without analysing
again (:mod:`engine.catalogue.importer`). Ray and pyarrow are optional (``pip install
"tagatlas[batch]"``) and imported only when a batch or an import runs."""
from __future__ import annotations

__all__ = ["batch", "importer", "records"]

"""Maps out: a space (or an Explorer's current map) to the tools people already use.

- :func:`to_parquet`: one table with the vectors, the 2-D map, the meta and a
  ``neighbors`` column in Apple Embedding Atlas's ``{ids, distances}`` form;
  reads in pandas, DuckDB, Polars, and ``embedding-atlas file.parquet
  --x x --y y --neighbors neighbors``.
- :func:`to_projector`: ``tensors.tsv``, ``metadata.tsv`` and
  ``projector_config.pbtxt`` for TensorBoard's Embedding Projector.
- :func:`to_html_map`: one offline HTML page holding the Explorer
  (``workbench map SPACE -o map.html``).
"""

from workbench.export.html_map import to_html_map
from workbench.export.parquet import to_parquet
from workbench.export.projector import to_projector

__all__ = ["to_html_map", "to_parquet", "to_projector"]

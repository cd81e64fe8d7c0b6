"""Deterministic, vectorised synthetic e-commerce data generator (DuckDB SQL over ``range()``).

Use :func:`generate`; it writes one CSV or Parquet file per source into ``out_dir`` and the
ground truth (persons, id mappings, dirt manifest) into ``truth_dir``.
"""

from segwarehouse.generator.api import generate
from segwarehouse.generator.summary import GenerationSummary

__all__ = ["GenerationSummary", "generate"]

"""Activation: write the consent-gated audience files that marts.audience_exports selects."""

from segwarehouse.activation.export import (
    EXPORT_DIR_ENV,
    ExportedFile,
    ExportResult,
    export_audiences,
    export_dir_from_env,
)

__all__ = [
    "EXPORT_DIR_ENV",
    "ExportResult",
    "ExportedFile",
    "export_audiences",
    "export_dir_from_env",
]

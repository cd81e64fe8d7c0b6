"""Tooling around the customer-segmentation dbt project."""

"""The rules of the product: plain functions taking a SQLModel Session."""

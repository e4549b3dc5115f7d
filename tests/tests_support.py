"""Paths shared by tests (importable, unlike conftest)."""

from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]

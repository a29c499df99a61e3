"""Capacity and the upgrade programme's reports (issue 13)."""

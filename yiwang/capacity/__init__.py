"""Capacity and the upgrade programme's reports (issue 13): metric history, links and their upgrades, equipment
and its lifecycle."""

"""Reporting: records -> tables, plots and an HTML report."""

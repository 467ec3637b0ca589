"""Cohort audit: plan many cases and measure how care followed the guidelines (issue 7)."""

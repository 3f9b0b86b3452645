"""Dialogs: errors, opening runs, exporting figures and data."""

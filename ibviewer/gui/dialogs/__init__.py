"""Dialogs: errors, warnings, opening runs, exporting figures, help."""

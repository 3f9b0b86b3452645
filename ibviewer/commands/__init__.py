"""Headless subcommands of the `ibviewer` command line, one module each."""

"""The desktop app (PySide6 + pyqtgraph); the core never imports this package."""

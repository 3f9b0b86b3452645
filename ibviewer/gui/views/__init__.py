"""Views: widgets that draw what `AppState` holds, report gestures back to it and emit requests for work.

A view imports only `gui.widgets`, `gui.state`, `gui.playback` and the core's definitions; it never
imports another view or anything that runs jobs (see tests/test_architecture.py). A new view goes
here: build it on `AppState`'s signals, put shared drawing code in `gui/widgets/`, emit a signal for
anything it needs computed, and let the window connect that signal to the controller.
"""

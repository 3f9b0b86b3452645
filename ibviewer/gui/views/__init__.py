"""Views: widgets that draw what `AppState` holds and report user gestures back to it."""

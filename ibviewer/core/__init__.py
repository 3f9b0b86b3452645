"""The headless core of ibviewer: numpy, torch and scikit-learn, never Qt."""

"""Test tooling the toolkit ships for its own suite and for projects built on it."""

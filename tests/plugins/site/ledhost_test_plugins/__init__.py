"""One-behaviour plugins for ledhost's tests."""

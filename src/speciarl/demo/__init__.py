"""The demo: a synthetic fine-grained world small enough to run SpeciaRL end to end on a laptop CPU."""

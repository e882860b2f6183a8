"""Tables (markdown, terminal) and plots (matplotlib, Agg) of graded records."""

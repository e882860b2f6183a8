"""Orchestration of the eval stages: predict → verify → report."""

"""SpeciaRL: teach vision-language models to be as specific as they honestly can."""

__version__ = "0.1.0"

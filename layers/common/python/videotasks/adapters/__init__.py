"""Adapters to AWS and to generation providers: the only code that does I/O."""

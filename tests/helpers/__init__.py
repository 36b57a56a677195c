"""What tests share besides fixtures (which live in `tests/conftest.py`): polling with a
deadline, the worker, a lead's journey, payload factories, programs, databases, the in-process
API client and the import graph."""

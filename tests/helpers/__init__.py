"""What tests share besides fixtures: polling with a deadline, the worker, a lead's journey,
payload factories, programs and databases. Fixtures live in `tests/conftest.py`."""

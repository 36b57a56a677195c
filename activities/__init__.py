"""Activities: one class per outside system, holding its clients; `worker.py` registers them.

The name in each `@activity.defn(name=...)` is recorded in workflow histories: a renamed method
keeps its old activity name, or saved and running workflows no longer replay.
"""

"""Architecture search over recurrent cells: candidate evaluations run as tasks of a Dask cluster
(:class:`rnnlab.search.engine.Engine`), local worker processes by default or a running cluster
joined by its scheduler's address."""

from rnnlab.search.engine import Engine, EngineError

__all__ = ["Engine", "EngineError"]

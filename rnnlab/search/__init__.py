"""Architecture search over recurrent cells (``rnnlab search``): cell graphs mutated
(:mod:`~rnnlab.search.mutate`), evaluated by brief trainings (:mod:`~rnnlab.search.evaluate`) that run
as tasks of a Dask cluster (:mod:`~rnnlab.search.engine`: local worker processes by default, or a
running cluster joined by its scheduler's address), generation after generation
(:mod:`~rnnlab.search.driver`), with the state in a SQLite file (:mod:`~rnnlab.search.store`).

The engine is imported from its module (``rnnlab.search.engine``), so that reading a search's state
does not load Dask."""

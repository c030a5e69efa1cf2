"""The ``percept`` command line. Commands import their heavy dependencies lazily."""

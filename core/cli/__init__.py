"""The ``reram-workbench`` command line (:mod:`core.cli.main`), one module per command group."""

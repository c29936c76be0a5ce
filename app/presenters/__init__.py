"""The workbench's flow logic, free of Qt: the open document, form parsing, and one presenter per panel.

Widgets lay out and forward; what a button does, which project a result goes to, what a queue row says and
what a cancel replaces is decided here, and tested without a QApplication. An import-linter contract keeps
this package free of PySide6 and pyqtgraph.
"""

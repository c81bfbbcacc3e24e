"""The local web page (``restorekit serve``): every task behind sliders, before/after at 100 %.

:func:`~restorekit.serve.app.create_app` builds the Starlette application; the tasks it runs are
in :mod:`restorekit.serve.tasks`, which calls the same library functions as the command line.
"""

"""The web console: server-rendered pages for the people on call, served by the API.

Pages are Jinja2 templates; the live parts poll small fragments with htmx, the service graph
is drawn with cytoscape.js and the series with uPlot. Every script and stylesheet is shipped
in ``static/`` (vendored from the npm registry, see ``static/vendor/VERSIONS.txt``), so the
console works without internet access. :func:`aiops.console.routes.console_router` builds the
router; :mod:`aiops.console.auth` is the one place that decides who may read and who may act.
"""

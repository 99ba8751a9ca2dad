"""The AIOps engine: streaming anomaly detection, alert correlation and remediation.

Importing this package does no work; :mod:`aiops.app` builds everything from one
:class:`aiops.settings.Settings`.
"""

__version__ = "0.1.0"

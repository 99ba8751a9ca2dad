"""Configuration mistakes as one line naming the setting, where it came from and the problem.

pydantic reports a bad setting as a multi-line ``ValidationError`` (and the CLI used to show
it as a 50-line traceback); an operator needs the key, its source and what is wrong:

    error: api.prot (config.yaml): unknown setting; api has host, port, ...
    error: api.port (AIOPS_API__PORT): Input should be a valid integer (got 'http')

Unknown ``AIOPS_*`` variables are refused too (pydantic-settings ignores a variable that
names no field, so ``AIOPS_KAFAK__BOOTSTRAP_SERVERS`` would silently start the embedded
broker). Variables that are not settings but are read by the tooling are exempt:
``AIOPS_CONFIG`` (the file), the command-line client's ``AIOPS_URL``, ``AIOPS_TOKEN`` and
``AIOPS_BASIC_AUTH`` (an operator's shell holds them beside a running engine's settings), and
the test suite's ``AIOPS_TEST_*`` and ``AIOPS_SCREENSHOTS``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from aiops.model import ConfigError

PREFIX = "AIOPS_"
EXEMPT = ("AIOPS_CONFIG", "AIOPS_TEST_", "AIOPS_SCREENSHOTS")
#: Exempt by exact name (a prefix match would let ``AIOPS_URLS`` through).
EXEMPT_NAMES = frozenset({"AIOPS_URL", "AIOPS_TOKEN", "AIOPS_BASIC_AUTH"})


def _env_name(loc: tuple[Any, ...]) -> str:
    return PREFIX + "__".join(str(p).upper() for p in loc)


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names of the section at ``loc`` (for 'did you mean' help)."""
    current: Any = model
    for part in loc:
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        current = field.annotation
    return sorted(getattr(current, "model_fields", {}))


def check_environment(model: type[BaseModel], environ: dict[str, str] | None = None) -> None:
    """Refuse an ``AIOPS_*`` variable whose first part names no setting."""
    env = os.environ if environ is None else environ
    known = set(model.model_fields)
    for name in sorted(env):
        upper = name.upper()
        if not upper.startswith(PREFIX) or upper.startswith(EXEMPT) or upper in EXEMPT_NAMES:
            continue
        head = upper[len(PREFIX):].split("__", 1)[0].lower()
        if head not in known:
            raise ConfigError(f"unknown setting {head!r}; settings are "
                              f"{', '.join(sorted(known))}", source=name)


def explain(exc: ValidationError, model: type[BaseModel], path: Path | None,
            environ: dict[str, str] | None = None) -> ConfigError:
    """The first error of ``exc`` as one line; ``path`` is the configuration file, if any."""
    env = os.environ if environ is None else environ
    errors = exc.errors()
    first = errors[0]
    loc = tuple(first["loc"])
    dotted = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in loc)
    dotted = dotted.replace(".[", "[")
    variable = _env_name(tuple(p for p in loc if not isinstance(p, int)))
    from_env = next((n for n in env if n.upper() == variable), None)
    source = from_env or (str(path) if path is not None else "")
    if first["type"] == "extra_forbidden":
        section = loc[:-1]
        siblings = _fields_at(model, section) if section else []
        where = ".".join(str(p) for p in section) or "the settings"
        reason = f"unknown setting; {where} has {', '.join(siblings)}" if siblings else \
            "unknown setting"
    else:
        reason = first["msg"].removeprefix("Value error, ")
        if "input" in first and not isinstance(first["input"], dict | list):
            reason += f" (got {first['input']!r})"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return ConfigError(f"{dotted or 'settings'}: {reason}{more}", source=source)


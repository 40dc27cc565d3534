"""Check modules. Every module in this package is imported here, so a new module's
`@check` functions register themselves (see `skill_audit.registry`)."""

import importlib
import pkgutil

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_module}")

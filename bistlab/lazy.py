"""Names imported when first used, so that ``bistlab --help`` starts without pandas, optuna, the
models or torch (the command line owns the only heavy start-up; every command imports what it
uses on its first call)."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["lazy"]

_UNSET = object()


class _Lazy:
    """Stands for ``module.name`` (or the module itself) until it is called or an attribute is read."""

    __slots__ = ("_module", "_name", "_value")

    def __init__(self, module: str, name: str | None) -> None:
        self._module, self._name, self._value = module, name, _UNSET

    def _load(self) -> Any:
        if self._value is _UNSET:
            module = importlib.import_module(self._module)
            self._value = module if self._name is None else getattr(module, self._name)
        return self._value

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._load()(*args, **kwargs)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._load(), attr)

    def __repr__(self) -> str:
        return f"<lazy {self._module}{'.' + self._name if self._name else ''}>"


def lazy(module: str, name: str | None = None) -> Any:
    """``module.name`` (``name`` None: the module), imported on first use.

    Use it for functions, classes that are only called or read from (``TaskStatus.FAILED``), and
    modules; not for classes named in ``except`` or ``isinstance`` (import those directly).
    """
    return _Lazy(module, name)

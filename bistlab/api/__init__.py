"""The REST API and control page of the LSTM hyperopt (``bistlab serve``) and the optuna-dashboard of every study
(``bistlab dashboard``). Imports any layer but cli.

- :mod:`~bistlab.api.app`: :func:`create_app` (FastAPI), the endpoints and error answers;
- :mod:`~bistlab.api.models`: request and response models (the specification's shapes);
- :mod:`~bistlab.api.views`: answers read from the job files;
- :mod:`~bistlab.api.security`: loopback-or-token rule, token, Host and Origin checks;
- :mod:`~bistlab.api.server`: :func:`serve` (uvicorn, optionally optuna-dashboard beside it);
- ``static/``: the control page (HTML, a small script, CSS) and the offline docs page; plotly.js
  comes from the installed plotly package.
"""

from __future__ import annotations

__all__: list[str] = []

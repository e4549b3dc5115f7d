"""Is the team's MLflow server usable? One real API call, without importing MLflow.

Every stage runs this check before any work when MLFLOW_TRACKING_URI names a
server, so an unreachable, refusing or password-protected server costs
seconds, not a training run. It uses the standard library only: importing
MLflow costs about 1.8 s, more than most stages' work.
"""

from __future__ import annotations

import base64
import os
import urllib.error
import urllib.parse
import urllib.request

from latent_atlas.errors import TrackingError
from latent_atlas.tracking.store import EXPERIMENT_NAME, is_server


def _auth_header() -> dict[str, str]:
    user, password = os.environ.get("MLFLOW_TRACKING_USERNAME"), os.environ.get("MLFLOW_TRACKING_PASSWORD")
    if not user:
        return {}
    token = base64.b64encode(f"{user}:{password or ''}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def check_server(uri: str, timeout_s: float = 5.0) -> None:
    """Fail at once, in one line naming the URI and the fix, when a tracking
    server cannot serve this project.

    It calls a real API endpoint: `/health` is exempt from MLflow's Host-header
    and authentication checks, so a healthy /health proves nothing.
    """
    if not is_server(uri):
        return
    query = urllib.parse.urlencode({"experiment_name": EXPERIMENT_NAME})
    url = f"{uri.rstrip('/')}/api/2.0/mlflow/experiments/get-by-name?{query}"
    request = urllib.request.Request(url, headers=_auth_header())
    try:
        with urllib.request.urlopen(request, timeout=timeout_s):
            return
    except urllib.error.HTTPError as exc:
        body = exc.read(300).decode(errors="replace")
        if exc.code == 404 and "RESOURCE_DOES_NOT_EXIST" in body:
            return  # answers; the experiment is created on first use
        raise TrackingError(_http_failure(uri, exc.code, body)) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TrackingError(
            f"cannot reach the MLflow tracking server at MLFLOW_TRACKING_URI={uri} ({reason}); "
            "start it or unset MLFLOW_TRACKING_URI to use the local mlflow.db"
        ) from None


def _http_failure(uri: str, code: int, body: str) -> str:
    host = urllib.parse.urlsplit(uri).netloc
    fixes = {
        403: f"the server refuses the Host header {host!r}: start `mlflow server` with "
             f"--allowed-hosts {host} (or check MLFLOW_TRACKING_USERNAME's permissions)",
        401: "the server wants credentials: set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD",
    }
    fix = fixes.get(code, f"the server answered: {' '.join(body.split())[:160]}")
    return f"MLflow server at MLFLOW_TRACKING_URI={uri} answered HTTP {code}; {fix}"

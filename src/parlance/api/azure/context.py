"""What every Azure route needs: the services, the caller's instance, and the URLs of its entities."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response

from parlance.api.deps import ServicesDep, owner_of
from parlance.errors import NotFound
from parlance.services.container import Services

API_VERSIONS = ("v3.2", "v3.1")


@dataclass(frozen=True)
class Azure:
    svc: Services
    owner: str
    root: str  # the server's base URL
    base: str  # `{root}/speechtotext/{version}`: entity URLs start here

    def url(self, *parts: str) -> str:
        return "/".join((self.base, *parts))


def azure(request: Request, svc: ServicesDep) -> Azure:
    """Authenticates with `Ocp-Apim-Subscription-Key` (Azure's header; the same API keys) or as the Watson
    API does, and works out the API version from the path."""
    key = request.headers.get("ocp-apim-subscription-key")
    owner = svc.auth.instance_for_key(key) if key else owner_of(svc, request.headers, request.query_params)
    root = (svc.settings.public_url or str(request.base_url)).rstrip("/")
    version = next((v for v in API_VERSIONS if f"/speechtotext/{v}/" in request.url.path), API_VERSIONS[0])
    return Azure(svc, owner, root, f"{root}/speechtotext/{version}")


AzureDep = Annotated[Azure, Depends(azure)]


def deleted(delete: Callable[[], None]) -> Response:
    """Azure's 204 for a delete: "successfully deleted or did not exist"."""
    try:
        delete()
    except NotFound:
        pass
    return Response(status_code=204)

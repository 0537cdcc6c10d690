"""The Helm provider bindings (``cdktn-provider-helm``)."""

from __future__ import annotations

from cdktn_provider_helm import provider, release

__all__ = ["provider", "release"]

"""Content fingerprints: the same inputs give the same short hex id, so caches and cells can be reused."""

from __future__ import annotations

import hashlib
import json

import torch


def fingerprint(value) -> str:
    """sha256 of a JSON-serialisable value with sorted keys, shortened to 16 hex digits."""
    payload = json.dumps(value, sort_keys=True, default=str).encode()
    return hashlib.sha256(payload).hexdigest()[:16]


def weights_fingerprint(model: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().to(torch.float32).contiguous().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]

"""The Messages models on the one converter: content blocks dispatched by ``type``.

The rules (lenient, lossless, by type) are ``_lenient``'s, shared with the Responses
models; this module names the Messages classes.
"""

from __future__ import annotations

from .._lenient import install
from ._blocks import BLOCK_TYPES, Block, MessagesModel

__all__: list[str] = []

install(MessagesModel, {Block: BLOCK_TYPES})

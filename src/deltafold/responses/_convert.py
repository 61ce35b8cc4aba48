"""The Responses models on the one converter: items and parts dispatched by ``type``.

The rules (lenient, lossless, by type) are ``_lenient``'s, shared with the Messages
models; this module names the Responses classes.
"""

from __future__ import annotations

from .._lenient import install
from ._items import ITEM_TYPES, Item
from ._parts import PART_TYPES, Part, ResponsesModel

__all__: list[str] = []

install(ResponsesModel, {Item: ITEM_TYPES, Part: PART_TYPES})

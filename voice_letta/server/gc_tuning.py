"""Keep garbage-collection pauses off the turn path: everything alive once the server has started is frozen.

CPython's full (generation 2) collection walks every tracked object. A started server holds about 270,000 that
never die (the SDKs' types, pydantic schemas, routes, caches), and walking them took 60-75 ms per full collection
(measured at start-up in bench/http_latency.py's server); one in the middle of a turn would stall every stream of
the process for that long. ``gc.freeze()`` once start-up is over moves them to the permanent generation, which
collections skip; what turns allocate is collected as before.
"""

from __future__ import annotations

import gc
import logging

from aiohttp import web

log = logging.getLogger(__name__)


async def freeze_startup_objects(app: web.Application) -> None:
    """An ``on_startup`` hook: it runs after every cleanup context has set its resource up."""
    gc.collect()
    gc.freeze()
    log.debug("gc: %d objects frozen after start-up", gc.get_freeze_count())

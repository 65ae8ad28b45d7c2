"""Waitress for the station's web app, in a background thread that can be stopped.

    server = serve(app, "0.0.0.0", 8080)   # returns at once; server.port is the real port
    ...
    server.stop()                           # ends live streams, closes sockets, joins threads
"""

from __future__ import annotations

import logging
import threading
import time

from waitress import create_server
from waitress import wasyncore
from waitress.task import ThreadedTaskDispatcher

log = logging.getLogger(__name__)

THREADS = 8  # live streams take at most web.api.MAX_STREAMS of these; pages get the rest
DRAIN_S = 3.0  # at a stop, requests in flight get this long to finish before the sockets close


class WebServer:
    def __init__(self, app, host: str, port: int, threads: int = THREADS):
        self.app = app
        # Our own dispatcher, so its worker threads end when the port cannot be had (waitress
        # starts them before it binds); a process would otherwise exit with them still there.
        dispatcher = ThreadedTaskDispatcher()
        dispatcher.set_thread_count(threads)
        try:
            self._server = create_server(
                app,
                host=host,
                port=port,
                threads=threads,
                ident="ohsa",
                clear_untrusted_proxy_headers=True,
                channel_timeout=30,
                _dispatcher=dispatcher,
            )
        except BaseException:
            dispatcher.shutdown(timeout=2.0)
            raise
        self.host = host
        self.port = int(self._server.effective_port)
        self._thread: threading.Thread | None = None
        self._stopped = False

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> WebServer:
        self._thread = threading.Thread(target=self._server.run, name="web", daemon=True)
        self._thread.start()
        log.info("web pages on %s", self.url)
        return self

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop accepting, end live streams, close every connection, join the workers, all
        within `timeout` seconds; True when every server thread has ended."""
        if self._stopped:
            return self._ended()
        self._stopped = True
        deadline = time.monotonic() + timeout
        ohsa = self.app.extensions.get("ohsa")
        if ohsa is not None:
            ohsa["stopping"] = True
        server = self._server
        # Requests in flight finish first (live streams end on "stopping"): a task still writing
        # when the loop's sockets close finds its trigger closed, and Waitress logs a traceback.
        dispatcher = server.task_dispatcher
        drain_by = time.monotonic() + min(DRAIN_S, timeout / 2)
        while (dispatcher.active_count > 0 or dispatcher.queue) and time.monotonic() < drain_by:
            time.sleep(0.02)
        if self._thread is not None and self._thread.is_alive():
            # Close the sockets inside the loop's own thread, then the loop ends (empty map).
            server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
            self._thread.join(timeout)
        else:
            wasyncore.close_all(server._map)
        server.task_dispatcher.shutdown(timeout=max(0.0, deadline - time.monotonic()))
        if self._ended():
            log.info("web pages stopped")
            return True
        log.warning("web server threads still running after %.1f s", timeout)
        return False

    def _ended(self) -> bool:
        loop_ended = self._thread is None or not self._thread.is_alive()
        return loop_ended and not self._server.task_dispatcher.threads


def serve(app, host: str = "0.0.0.0", port: int = 8080, *, threads: int = THREADS) -> WebServer:
    """Start Waitress with `app` on host:port (0 = any free port) in a thread; returns the server."""
    return WebServer(app, host, port, threads).start()

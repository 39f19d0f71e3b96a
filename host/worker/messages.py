"""The worker's conversation with the host once it runs: both directions.

From the host: ``activate``, ``deactivate``, ``configure``, ``action`` and ``stop``,
handled on the main thread by :meth:`MessageMixin.handle`. To the host: the plugin's
requests through :class:`sdk.context.Requests` (redraw, interrupt, release, more time),
which may come from any thread. Action results pass through the secret scrubber like
every other text the worker sends back.

Split from :mod:`host.worker.loop` (see :mod:`host.worker.core` for why as a mixin).
"""

from __future__ import annotations

from host.errors import ProtocolError
from host.ipc import protocol
from host.worker.refresh import RefreshMixin
from host.worker.render import RenderMixin
from host.worker.secrets import read_only

__all__ = ["MessageMixin"]


class MessageMixin(RenderMixin, RefreshMixin):
    """Host messages in, plugin requests out."""

    # -- requests from the plugin (sdk.context.Requests), any thread ---------------------

    def request_redraw(self, mode: str | None) -> None:
        if mode is None or mode == self.active:
            self._redraw.set()
            self._wake()

    def request_interrupt(self, mode: str, priority: int, seconds: float) -> None:
        self.channel.send(
            protocol.Interrupt(mode=mode, priority=int(priority), seconds=float(seconds))
        )

    def release_interrupt(self, mode: str) -> None:
        self.channel.send(protocol.Release(mode=mode))

    def request_more_time(self, mode: str, seconds: float) -> None:
        self.channel.send(protocol.Dwell(mode=mode, seconds=float(seconds)))

    # -- messages from the host, main thread ----------------------------------------------

    def handle(self, message: protocol.HostMessage) -> bool:
        """Act on one host message; ``False`` means stop."""
        if isinstance(message, protocol.Activate):
            mode = message.mode
            self.token = message.token
            self._set_size(message.size)
            self.for_ticker = message.ticker
            if mode not in {m.name for m in self.modes}:
                self.channel.send(protocol.Error(hook="activate", message=f"no mode {mode!r}"))
                return True
            self.active = mode
            self._render_active(restart=True)
        elif isinstance(message, protocol.Deactivate):
            self.active = None
            self.next_due = None
        elif isinstance(message, protocol.Configure):
            config = message.config
            self.context.config = config
            secrets = message.secrets
            if secrets is not None:
                self.scrubber.remember(secrets)
                self.context.secrets = read_only(secrets)
            self._enter("main", "configure")
            try:
                self.pm.hook.configure(context=self.context, config=config)
            except Exception as exc:
                self.report_error("configure", exc)
            finally:
                self._leave("main")
            self._refresh_wake.set()
            self._update_content()
            if self.active is not None:
                self._render_active(restart=False)
        elif isinstance(message, protocol.Action):
            self._handle_action(message)
        elif isinstance(message, protocol.Stop):
            return False
        return True

    def _handle_action(self, message: protocol.Action) -> None:
        request_id = message.id
        self._enter("main", "handle_action")
        try:
            result = self.pm.hook.handle_action(
                context=self.context, name=message.name, params=message.params
            )
        except Exception as exc:
            self._leave("main")
            self.report_error("handle_action", exc)
            self.channel.send(
                protocol.ActionResult(
                    id=request_id,
                    ok=False,
                    error=self.scrubber.text(f"{type(exc).__name__}: {exc}")[:65536],
                )
            )
            return
        self._leave("main")
        try:
            self.channel.send(
                protocol.ActionResult(id=request_id, ok=True, result=self.scrubber.data(result))
            )
        except (TypeError, ValueError, ProtocolError) as exc:
            # Encoding failed before anything was queued: say so instead of dying.
            error = TypeError(f"handle_action returned something that is not plain data: {exc}")
            self.report_error("handle_action", error)
            self.channel.send(protocol.ActionResult(id=request_id, ok=False, error=str(error)))

"""guardrails.allowedHosts on the worker: a request to a host outside the list is never sent.

The plan's hosts were checked before the run; this catches hosts that are only known at run
time (a URL built from an extracted value). It wraps any Transport, and is only put in place
when the list is set, so runs without allowedHosts pay nothing. Redirects are checked by the
transport itself before it follows one (`allow_url`, on both `FastTransport` and
`AiohttpTransport`): a refused one fails with class "guardrail" and is never connected.
"""

from __future__ import annotations

from lunge_mp.analysis.hosts import HostMatcher
from lunge_mp.plan import Plan
from lunge_mp.worker.transport import Outcome, Prepared, Transport, Wrapper


class HostGuard(Wrapper):
    def __init__(self, inner: Transport, matcher: HostMatcher) -> None:
        super().__init__(inner)
        self.matcher = matcher

    async def send(self, request: Prepared) -> Outcome:
        if not self.matcher.allows_url(request.url):
            return Outcome(duration_us=1, error_class="guardrail",
                           error=f"refused {request.method} {request.url}: its host is not in "
                                 f"guardrails.allowedHosts ({self.matcher.describe()})")
        return await self.inner.send(request)


def guarded(plan: Plan, transport: Transport) -> Transport:
    """`transport` with the plan's allowedHosts enforced (itself when every host is allowed)."""
    matcher = HostMatcher(plan.guardrails.allowed_hosts)
    if matcher.open:
        return transport
    if hasattr(transport, "allow_url"):        # both transports: redirects are checked there
        transport.allow_url = matcher.allows_url
    return HostGuard(transport, matcher)

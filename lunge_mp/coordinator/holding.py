"""A pause of the open model on the workers: the arrivals already dealt wait there.

The dealer hands arrivals out up to LOOKAHEAD_S + BATCH_S ahead (dealing.py), so stopping
the deals alone would let up to ~0.75 s of arrivals go on into a pause. Instead, when a
pause is applied at `t`, every live worker is sent `Hold(at)`: it starts no open-model
arrival whose instant is at or after `at` (HOLD_AHEAD_S past `t`, so that a local worker has
it before `at` comes: what it started before is exactly what was due before). On resume
they are sent `Release(shift)`, the paused time, and the held arrivals go that much later;
the coordinator's schedule moves by as much (control.py), and so do the instants it keeps
of what each worker holds (arrival_ledger.py, for a worker lost later) and of a lost
worker's arrivals waiting to be dealt again. Order and spacing are kept.

Counting: a held arrival is neither due nor dropped. A stop during the pause makes it never
due, as any arrival whose instant had not come (worker/open_model.py `stop_starting`). A
worker gone for good during the pause has its arrivals from `at` on taken back (not those
up to the moment its loss was noticed: the held ones never ran; exact when the Hold reached
it before `at`, as a local worker's does: a remote one more than HOLD_AHEAD_S away may have
started a few arrivals from `at` on, which would then run twice). One lost by silence is
sent the Holds and Releases it missed when it rejoins, in order, so what it holds moves as
everyone's did.

Pure: the messages go through the core's `send` (its Outbox).
"""

from __future__ import annotations

from lunge_mp.protocol import messages as m

HOLD_AHEAD_S = 0.005     # the hold's instant, past the pause: a local worker has the Hold by then


class ArrivalHold:
    def __init__(self) -> None:
        self.at_us: int | None = None              # paused: arrivals from this instant are held
        self._sent: list[m.Hold | m.Release] = []  # every Hold and Release of the run, in order
        self._seen: dict[int, int] = {}            # worker → how many of them it was sent

    def hold(self, core, t: float) -> None:
        if not core.clocks:         # no open scenario: nothing to hold
            return
        self.at_us = int((t + HOLD_AHEAD_S) * 1e6)
        self._hand_out(core, m.Hold(at_us=self.at_us))

    def release(self, core, paused_s: float) -> None:
        if self.at_us is None:
            return
        shift_us = int(round(paused_s * 1e6))
        core.dealer.shift_held(self.at_us, shift_us)
        self.at_us = None
        self._hand_out(core, m.Release(shift_us=shift_us))

    def due_until_us(self, t: float) -> int:
        """The last instant (µs after t0) whose arrivals were due by `t`: paused, the one
        before the hold's (those from it on are held: they never ran)."""
        now_us = int(t * 1e6)
        return now_us if self.at_us is None else min(now_us, self.at_us - 1)

    def rejoined(self, core, worker: int) -> None:
        """A worker lost by silence is back: the Holds and Releases it missed, in order."""
        self._send_missed(core, worker)

    def _hand_out(self, core, msg: m.Hold | m.Release) -> None:
        self._sent.append(msg)
        for w in core.live_workers():
            self._send_missed(core, w)

    def _send_missed(self, core, worker: int) -> None:
        for msg in self._sent[self._seen.get(worker, 0):]:
            core.send(worker, msg)
        self._seen[worker] = len(self._sent)

"""How long a silence both ends of a run's connection judge by.

The coordinator takes a worker silent this long for lost and gives its closed-model VUs to
the others (coordinator/health.py); a worker that has heard nothing from its coordinator for
as long parks its own (worker/parking.py), so a worker cut off from its coordinator does not
run its share while the others run it too. One constant for both: the two limits must not drift.
"""

LOST_AFTER_S = 3.0           # silent for this long: lost (coordinator), parked (worker)

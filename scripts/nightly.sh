#!/usr/bin/env bash
# Nightly load test with a baseline gate, ready for cron or a CI job.
#
#   scripts/nightly.sh CONFIG BASELINE [RUN ARGS...]
#
#   1. lunge-mp run CONFIG -q --out RESULTS_DIR/<config>-<UTC time>.json [RUN ARGS...]
#   2. lunge-mp record <results>              (adds the run to the history store)
#   3. lunge-mp compare <results> --baseline BASELINE, printed and written beside the
#      results as <...>-compare.json. If BASELINE does not exist yet, this run becomes it
#      (only when the run passed) and the script says so.
#
# Exit code (the first failure wins, as in lunge-mp itself):
#   the run's own code when it failed: 99 thresholds, 104 bad config, 105 signal,
#     111 guardrail, 112 workers lost, 113 invalid run, 1 internal error
#   else 99 when the run regressed against BASELINE, else 0;
#   104 when recording or comparing could not be done (bad store, unreadable results).
#
# Environment:
#   LUNGE_MP                command to call (default: lunge-mp), e.g. /srv/lt/.venv/bin/lunge-mp
#   LUNGE_MP_STORE          history database (default: ~/.local/share/lunge_mp/history.db)
#   NIGHTLY_RESULTS_DIR     where results go (default: ./results)
#   NIGHTLY_MAX_REGRESSION  compare rules (default: compare's: p95=10%+1ms,p99=15%+2ms,error_rate=+1pp,
#                           rps=-10%; the absolute slack keeps sub-millisecond jitter from failing the night)
#
# cron, 03:00 every night:
#   0 3 * * *  cd /srv/lt && LUNGE_MP=.venv/bin/lunge-mp scripts/nightly.sh tests/api.yaml api-nightly -e BASE_URL=https://staging.example.com >> nightly.log 2>&1
#
# Move the baseline on deliberately, e.g. after a release: lunge-mp baseline set api-nightly --run RUN_ID

set -euo pipefail

if [[ $# -lt 2 ]]; then
    echo "usage: $0 CONFIG BASELINE [RUN ARGS...]" >&2
    exit 104
fi
config=$1
baseline=$2
shift 2
run_args=("$@")

read -r -a lunge <<< "${LUNGE_MP:-lunge-mp}"     # may be several words: "python -m lunge_mp.cli"
results_dir=${NIGHTLY_RESULTS_DIR:-results}
rules=${NIGHTLY_MAX_REGRESSION:-}

say() { echo "nightly: $*"; }

[[ -f $config ]] || { echo "nightly: config $config not found" >&2; exit 104; }
mkdir -p "$results_dir"
stem=$(basename "${config%.*}")
stamp=$(date -u +%Y%m%dT%H%M%SZ)
results="$results_dir/$stem-$stamp.json"
compare_json="$results_dir/$stem-$stamp-compare.json"

# -- 1. run -------------------------------------------------------------------------------------
# `|| run_code=$?` keeps set -e from ending the script on a failed run: we still want to record
# and compare what it measured. ${arr[@]+...} keeps set -u happy with no RUN ARGS on old bash.
say "running $config -> $results"
run_code=0
"${lunge[@]}" run "$config" -q --out "$results" ${run_args[@]+"${run_args[@]}"} || run_code=$?
say "run exited $run_code"

if [[ ! -s $results ]]; then
    # nothing was measured (e.g. 104: invalid config): nothing to record or compare
    echo "nightly: the run wrote no results; nothing to record or compare" >&2
    exit $(( run_code != 0 ? run_code : 1 ))
fi

# -- 2. record ----------------------------------------------------------------------------------
# Idempotent: if `lunge-mp run` already recorded the run itself, this says "already recorded".
record_code=0
"${lunge[@]}" record "$results" || record_code=$?
if (( record_code != 0 )); then
    echo "nightly: could not record the run in the history store (exit $record_code)" >&2
    exit $(( run_code != 0 ? run_code : record_code ))
fi

# -- 3. baseline --------------------------------------------------------------------------------
if ! "${lunge[@]}" baseline show "$baseline" > /dev/null 2>&1; then
    if (( run_code != 0 )); then
        say "baseline '$baseline' does not exist, and this run failed (exit $run_code):" \
            "not making a failed run the baseline"
        exit "$run_code"
    fi
    say "baseline '$baseline' does not exist yet: setting it from this run; nothing to compare tonight"
    "${lunge[@]}" baseline set "$baseline" "$results"     # a store failure here ends the script (set -e)
    exit 0
fi

# -- 4. compare ---------------------------------------------------------------------------------
compare_args=(--baseline "$baseline" --json "$compare_json")
if [[ -n $rules ]]; then
    compare_args+=(--max-regression "$rules")
fi
compare_code=0
"${lunge[@]}" compare "$results" "${compare_args[@]}" || compare_code=$?

if (( run_code != 0 )); then
    say "FAILED: the run itself exited $run_code (comparison above for context)"
    exit "$run_code"
fi
case $compare_code in
    0)  say "passed: no regression against baseline '$baseline'"; exit 0 ;;
    99) say "REGRESSED against baseline '$baseline' (details above and in $compare_json)"; exit 99 ;;
    *)  say "could not compare against baseline '$baseline' (exit $compare_code)"; exit "$compare_code" ;;
esac

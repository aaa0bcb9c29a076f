#!/usr/bin/env bash
# wsztune in CI: sweep a committed corpus (sizes and memory, no timing), write the report and the
# job summary, then gate the setting you ship. The GitHub Action (action.yml) and the GitLab
# template (ci/gitlab-ci.yml) both run this script; tests/ci/test_ci_script.py runs it locally.
#
# Inputs, as environment variables:
#   WSZTUNE_CORPUS        the corpus to sweep (a scrubbed sample of your traffic), required
#                         unless WSZTUNE_RESULTS names a results file made earlier
#   WSZTUNE_RESULTS       a results file to read instead of sweeping (the job then takes seconds)
#   WSZTUNE_MAX_MEMORY    memory budget per connection, e.g. 64KiB (optional)
#   WSZTUNE_CHECK         the setting you ship, WB:ML, e.g. 13:2 (optional: without it, no gate)
#   WSZTUNE_BASELINE      a results file made when the setting was chosen: fail only when the
#                         setting became worse than there (`wsztune recommend --baseline`)
#   WSZTUNE_MAX_SAVINGS_DROP  with a baseline: fail when the setting's savings fell by more
#                         than this many points (`--max-savings-drop`, default 2)
#   WSZTUNE_STRICT        "true": also fail when a better setting exists (`--strict`)
#   WSZTUNE_ALLOW_PARTIAL "true": decide even on a partial run (`--allow-partial`)
#   WSZTUNE_SERVER        the stack you tune, as `wsztune run --server` (optional)
#   WSZTUNE_TOLERANCE     as `wsztune recommend --tolerance` (default 1%)
#   WSZTUNE_RUN_ARGS      more arguments for `wsztune run` (split on spaces)
#   WSZTUNE_RECOMMEND_ARGS  more arguments for `wsztune recommend`
#   WSZTUNE_OUTPUT_DIR    where run.json, report.html, summary.md and recommend.json go
#                         (default wsztune-results)
#   WSZTUNE               the command to call (default: wsztune)
# GITHUB_STEP_SUMMARY and GITHUB_OUTPUT are used when set (GitHub Actions sets them).
#
# Exit code: the gate's (`wsztune recommend`'s). 0 passed (or no gate asked; a better setting is
# advice), 1 the setting you ship does not fit, became worse than at the baseline, or (strict) a
# better one exists, or nothing fits the budget; 2 a usage error (no corpus, a bad option);
# 4 a partial run, no decision.
set -uo pipefail

wsztune=(${WSZTUNE:-wsztune})
out=${WSZTUNE_OUTPUT_DIR:-wsztune-results}
tolerance=${WSZTUNE_TOLERANCE:-1%}
read -r -a run_args <<< "${WSZTUNE_RUN_ARGS:-}"
read -r -a recommend_args <<< "${WSZTUNE_RECOMMEND_ARGS:-}"

say() { printf 'wsztune-ci: %s\n' "$*" >&2; }

mkdir -p "$out" || { say "cannot create $out"; exit 2; }

# 1. The sweep: sizes (every message round-tripped) and memory, no timing: deterministic.
if [[ -n "${WSZTUNE_RESULTS:-}" ]]; then
    run_file=$WSZTUNE_RESULTS
    say "reading $run_file (no sweep)"
else
    if [[ -z "${WSZTUNE_CORPUS:-}" ]]; then
        say "error: set WSZTUNE_CORPUS (the corpus input) or WSZTUNE_RESULTS"
        exit 2
    fi
    run_file=$out/run.json
    server=()
    [[ -n "${WSZTUNE_SERVER:-}" ]] && server=(--server "$WSZTUNE_SERVER")
    "${wsztune[@]}" run "$WSZTUNE_CORPUS" --no-timing --quiet -o "$run_file" \
        "${server[@]}" "${run_args[@]}" || exit $?
fi

budget=()
[[ -n "${WSZTUNE_MAX_MEMORY:-}" ]] && budget=(--max-memory "$WSZTUNE_MAX_MEMORY")
check=()
[[ -n "${WSZTUNE_CHECK:-}" ]] && check=(--check "$WSZTUNE_CHECK")
# The gate's questions: the report shows the same verdict as recommend decides on.
gate=()
[[ -n "${WSZTUNE_BASELINE:-}" ]] && gate+=(--baseline "$WSZTUNE_BASELINE")
[[ -n "${WSZTUNE_BASELINE:-}" && -n "${WSZTUNE_MAX_SAVINGS_DROP:-}" ]] \
    && gate+=(--max-savings-drop "$WSZTUNE_MAX_SAVINGS_DROP")
[[ "${WSZTUNE_STRICT:-false}" == "true" ]] && gate+=(--strict)
partial=()
[[ "${WSZTUNE_ALLOW_PARTIAL:-false}" == "true" ]] && partial=(--allow-partial)
common=(--results "$run_file" "${budget[@]}" --tolerance "$tolerance")

# 2. What a reviewer reads: the report (always written, pass or fail) and the grids.
"${wsztune[@]}" report "${common[@]}" "${check[@]}" "${gate[@]}" -o "$out/report.html" \
    >/dev/null || exit $?
{
    "${wsztune[@]}" table --results "$run_file" "${budget[@]}" --markdown --metric savings \
        --metric memory
} > "$out/summary.md" || exit $?

# 3. The gate. Its JSON goes to a file (not to the summary: recommend writes its own there).
recommend=("${wsztune[@]}" recommend "${common[@]}" "${check[@]}" "${gate[@]}" "${partial[@]}"
    "${recommend_args[@]}")
# (its stderr repeats the human run's below: kept in a file, shown when it is a usage error)
GITHUB_STEP_SUMMARY="" "${recommend[@]}" --json > "$out/recommend.json" 2> "$out/recommend.err"
status=$?
if [[ $status -ge 2 ]]; then
    cat "$out/recommend.err" >&2
    exit $status
fi
rm -f "$out/recommend.err"
# The human verdict in the log, and (on GitHub) recommend's own markdown in the job summary.
"${recommend[@]}"
if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then
    {
        echo
        cat "$out/summary.md"
        echo
        echo "_The full report is the \`report.html\` artifact of this job._"
    } >> "$GITHUB_STEP_SUMMARY"
fi

recommended=$(python3 - "$out/recommend.json" 2>/dev/null <<'PY' || true
import json, sys
decision = json.load(open(sys.argv[1]))
if decision.get("setting") is not None:
    print(decision["setting"])  # "13:2", or "off" when compression off is the recommendation
PY
)
if [[ -n "${GITHUB_OUTPUT:-}" ]]; then
    {
        echo "recommended=$recommended"
        echo "status=$status"
        echo "report=$out/report.html"
        echo "results=$run_file"
    } >> "$GITHUB_OUTPUT"
fi
say "recommended ${recommended:-nothing}; report: $out/report.html; exit $status"
exit $status
